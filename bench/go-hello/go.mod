module hello-microservices/bench/go-hello

go 1.19
