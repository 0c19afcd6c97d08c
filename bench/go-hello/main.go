// Command go-hello is the yardstick of the benchmarks in bench/: the smallest
// honest "Hello World" web server, written in Go with only the standard library.
//
// It answers GET / with "Hello World", like the Tornado service, so the two can
// be compared in the same run on the same machine. It reads PORT and ADDRESS
// like the service (ADDRESS=127.0.0.1 on the host network keeps it on loopback;
// empty: every interface, as in a container). It does no logging per
// request and touches no Redis: it shows what the machine, Docker and the load
// generator can do when the server itself costs almost nothing.
package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func hello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
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
	address := os.Getenv("ADDRESS")
	server := &http.Server{
		Addr:              address + ":" + port,
		Handler:           http.HandlerFunc(hello),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}

	// Stop like the Python service does: on SIGTERM (docker stop) or SIGINT,
	// refuse new connections and let the requests in flight finish.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		server.Shutdown(shutdown)
	}()

	log.Printf("go-hello listening on %s:%s", address, port)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Print("shutdown complete")
}
