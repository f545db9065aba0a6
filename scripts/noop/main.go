// Command noop is the bare server scripts/bench-forward-auth.sh measures
// gatehouse against: net/http answering 200, empty, to every request.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
}
