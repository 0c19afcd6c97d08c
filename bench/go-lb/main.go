// Command go-lb is the one entry point in front of the replicas in bench/'s scaling
// series: a round-robin HTTP reverse proxy, standard library only.
//
//	go-lb -listen 127.0.0.1:9000 http://127.0.0.1:9001 http://127.0.0.1:9002
//
// Each request goes to the next backend in turn, over kept-alive connections, the
// way a Kubernetes Service spreads connections over the ready pods. It logs nothing
// per request. It costs CPU too, so bench/ also measures it in front of the Go
// yardstick: that figure is the ceiling the entry point itself allows.
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
	if flag.NArg() == 0 {
		log.Fatal("usage: go-lb -listen ADDRESS:PORT BACKEND_URL...")
	}
	var backends []*url.URL
	for _, raw := range flag.Args() {
		u, err := url.Parse(raw)
		if err != nil {
			log.Fatalf("bad backend URL %q: %v", raw, err)
		}
		backends = append(backends, u)
	}
	// The default keeps 2 idle connections per backend: under load it would open a
	// new one for almost every request. Keep as many as wrk has connections.
	transport := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     60 * time.Second,
	}
	var next uint64
	proxy := &httputil.ReverseProxy{
		Director: func(r *http.Request) {
			b := backends[atomic.AddUint64(&next, 1)%uint64(len(backends))]
			r.URL.Scheme = b.Scheme
			r.URL.Host = b.Host
		},
		Transport: transport,
		ErrorLog:  log.Default(),
	}
	server := &http.Server{Addr: *listen, Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("go-lb listening on %s, %d backends", *listen, len(backends))
	log.Fatal(server.ListenAndServe())
}
