package storetest

import (
	"testing"

	"gatehouse/internal/store"
)

// factorTests are the conformance tests of [store.Factors].
var factorTests []struct {
	name string
	f    func(*testing.T, store.Store)
}
