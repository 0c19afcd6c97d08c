// Command go-hello is the yardstick of bench/: about the cheapest honest "Hello World"
// web server there is, Go's standard library only. Like the Tornado service it answers
// GET / with "Hello World" and reads PORT and ADDRESS; unlike it, it logs nothing per
// request and touches no Redis.
package main

import (
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func hello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Hello World")
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	server := &http.Server{Addr: os.Getenv("ADDRESS") + ":" + port,
		Handler: http.HandlerFunc(hello), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("go-hello listening on %s", server.Addr)
	log.Fatal(server.ListenAndServe())
}
