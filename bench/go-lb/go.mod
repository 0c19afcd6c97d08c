module hello-microservices/bench/go-lb

go 1.19
