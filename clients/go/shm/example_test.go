//go:build forgeshm

package shm_test

import (
	"errors"
	"log"

	"minifor.ge/forge/shm"
)

// The README's shared-memory example (compiled by go test; not run).
func Example() {
	c, err := shm.Open("") // "": $SHM_NAME, else "mini-forge"
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	key, err := c.GetKey("") // "": namespace default
	log.Println(key, err)
	keys, err := c.GetKeys("invites", 100)
	if errors.Is(err, shm.ErrExhausted) {
		log.Fatal("no more keys, for good")
	}
	log.Println(len(keys), err)
}
