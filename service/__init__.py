"""hello-tornado: the service this tutorial builds, step by step.

`python -m service` runs it; `service.app.make_app` builds the same application for
tests and notebooks.
"""

__version__ = "0.1.0"
