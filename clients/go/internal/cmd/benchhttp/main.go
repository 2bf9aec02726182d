// Command benchhttp measures keys per second for bench/clients_go.sh: C
// goroutines for D seconds, each taking keys one at a time, either from
// one shared buffered client (-mode buffered: http.Client.GetKey) or with
// its own GET /get-key per key (-mode get: an http.Get loop over
// keep-alive connections, one idle connection kept per goroutine).
// Prints "OPS SECONDS ERRORS" (ops: keys taken).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	forge "minifor.ge/forge/http"
)

func main() {
	url := flag.String("url", "", "base URL of forge-frontend")
	mode := flag.String("mode", "buffered", "buffered or get")
	conc := flag.Int("c", 64, "goroutines")
	secs := flag.Float64("d", 5, "seconds")
	batch := flag.Int("batch", 1000, "Options.Batch (buffered)")
	flag.Parse()
	if *url == "" || (*mode != "buffered" && *mode != "get") {
		fmt.Fprintln(os.Stderr, "benchhttp: -url URL and -mode buffered|get are required")
		os.Exit(2)
	}
	var take func(ctx context.Context) error
	switch *mode {
	case "buffered":
		c, err := forge.New(*url, forge.Options{Batch: *batch, Low: *batch / 2})
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchhttp:", err)
			os.Exit(2)
		}
		defer c.Close()
		take = func(ctx context.Context) error { _, err := c.GetKey(ctx); return err }
	case "get":
		tr := nethttp.DefaultTransport.(*nethttp.Transport).Clone()
		tr.MaxIdleConnsPerHost = *conc
		hc := &nethttp.Client{Transport: tr}
		take = func(ctx context.Context) error {
			resp, err := hc.Get(*url + "/get-key")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != nethttp.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	var ops, errs atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for !stop.Load() {
				if err := take(ctx); err != nil {
					if !stop.Load() {
						errs.Add(1)
					}
					continue
				}
				n++
			}
			ops.Add(n)
		}()
	}
	time.Sleep(time.Duration(*secs * float64(time.Second)))
	stop.Store(true)
	cancel()
	wg.Wait()
	fmt.Printf("%d %.3f %d\n", ops.Load(), time.Since(start).Seconds(), errs.Load())
}
