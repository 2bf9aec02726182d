package http_test

import (
	"context"
	"errors"
	"log"
	"os"
	"time"

	"minifor.ge/forge/http"
)

// The README's HTTP example (compiled by go test; not run: no server).
func Example() {
	c, err := http.New("http://forge:8080", http.Options{
		Namespace: "invites", Token: os.Getenv("FORGE_TOKEN"), Batch: 100, Low: 20})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	key, err := c.GetKey(ctx) // from the local buffer; waits only when it is empty
	if errors.Is(err, http.ErrExhausted) {
		log.Fatal("no more keys, for good")
	}
	log.Println(key, err)
	dropped, _ := c.Close() // buffered keys dropped: gaps, never given back
	log.Println("dropped", dropped)
}
