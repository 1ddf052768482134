// Command produce measures Strata's produce throughput on this machine: an
// in-process agent on embedded defaults (SQLite metastore, local-directory
// object store) driven by franz-go over loopback, 1 KiB records, at acks=1
// and acks=all. In the same run it measures two baselines the agent cannot
// beat — fsync'd sequential writes to the same disk (the write-ahead
// buffer's limit) and raw object-store PUTs of flush-sized objects — and
// prints every figure with its ratio to them, plus object PUTs per GiB.
//
//	go run ./bench/produce -mb 512 -partitions 6
package main
