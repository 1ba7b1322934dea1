package store

import (
	bolt "go.etcd.io/bbolt"
)

// groupCommitter runs index updates from many writers in shared
// transactions: while one transaction commits (and fsyncs), the updates
// that arrive queue up and go into the next one together. Unlike bbolt's
// Batch it adds no delay when the store is idle: a lone writer commits at
// once, and under load one fsync serves many writers.
type groupCommitter struct {
	db  *bolt.DB
	ops chan *commitOp
}

type commitOp struct {
	fn   func(*bolt.Tx) error
	done chan error
}

const maxGroup = 256

func newGroupCommitter(db *bolt.DB) *groupCommitter {
	g := &groupCommitter{db: db, ops: make(chan *commitOp, maxGroup)}
	go g.loop()
	return g
}

// update runs fn in a write transaction shared with concurrent callers.
// fn may run more than once (it is retried alone if its group fails), so it
// must not keep state across runs.
func (g *groupCommitter) update(fn func(*bolt.Tx) error) error {
	op := &commitOp{fn: fn, done: make(chan error, 1)}
	g.ops <- op
	return <-op.done
}

func (g *groupCommitter) close() { close(g.ops) }

func (g *groupCommitter) loop() {
	group := make([]*commitOp, 0, maxGroup)
	for op := range g.ops {
		group = append(group[:0], op)
	drain:
		for len(group) < maxGroup {
			select {
			case op, ok := <-g.ops:
				if !ok {
					break drain
				}
				group = append(group, op)
			default:
				break drain
			}
		}
		g.run(group)
	}
}

type groupFailure struct {
	index int
	err   error
}

func (e *groupFailure) Error() string { return e.err.Error() }

func (g *groupCommitter) run(group []*commitOp) {
	if len(group) == 1 {
		group[0].done <- g.db.Update(group[0].fn)
		return
	}
	err := g.db.Update(func(tx *bolt.Tx) error {
		for i, op := range group {
			if err := op.fn(tx); err != nil {
				return &groupFailure{i, err}
			}
		}
		return nil
	})
	if err == nil {
		for _, op := range group {
			op.done <- nil
		}
		return
	}
	// One update failed and the whole group rolled back: run each alone
	// so that only the failing one sees its error.
	for _, op := range group {
		op.done <- g.db.Update(op.fn)
	}
}
