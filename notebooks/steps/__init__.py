"""The tutorial's step files: each one a complete, runnable service, one idea bigger.

    s1_hello     GET / answers Hello World (15 lines of code)
    s2_health    + GET /healthz, errors as small JSON documents
    s3_settings  + settings from environment variables and flags, logs on stdout,
                   a graceful stop on SIGTERM that lets requests in flight finish
    s4_enqueue   + POST /enqueue pushes the body onto a Redis list

Notebooks show the diff from one step to the next (`tutorial.source.show_diff`);
`service/` is what s4 grows into. Run any step with `python -m steps.s1_hello --port 8080`
from `notebooks/` (or anywhere after `pip install -e .`); tests/test_steps.py runs them all.
"""
