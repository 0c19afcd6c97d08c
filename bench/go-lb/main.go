// Command go-lb is the one entry point in front of the replicas in bench/'s scaling
// series: a round-robin HTTP reverse proxy (standard library only), as a Kubernetes
// Service spreads load over ready pods. It logs nothing per request.
//
//	go-lb -listen 127.0.0.1:9000 http://127.0.0.1:9001 http://127.0.0.1:9002
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address:port to listen on")
	flag.Parse()
	var backends []*url.URL
	for _, raw := range flag.Args() {
		u, err := url.Parse(raw)
		if err != nil {
			log.Fatalf("bad backend URL %q: %v", raw, err)
		}
		backends = append(backends, u)
	}
	if len(backends) == 0 {
		log.Fatal("usage: go-lb -listen ADDRESS:PORT BACKEND_URL...")
	}
	// Go keeps 2 idle connections per backend by default: under load it would open a
	// new one for almost every request. Keep as many as wrk has connections.
	transport := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256}
	var next uint64
	proxy := &httputil.ReverseProxy{Transport: transport, Director: func(r *http.Request) {
		b := backends[atomic.AddUint64(&next, 1)%uint64(len(backends))]
		r.URL.Scheme, r.URL.Host = b.Scheme, b.Host
	}}
	server := &http.Server{Addr: *listen, Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(server.ListenAndServe())
}
