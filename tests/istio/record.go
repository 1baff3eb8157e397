package harness

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// failer is the test.Failer given to Istio's fake istiod: it keeps the messages of a
// t.Fatalf so the case's result can say why it stopped, then stops the case's subtest.
type failer struct {
	*testing.T
	mu   sync.Mutex
	msgs []string
}

func (f *failer) record(s string) {
	f.mu.Lock()
	f.msgs = append(f.msgs, s)
	f.mu.Unlock()
}

func (f *failer) Fatal(args ...any) { f.record(fmt.Sprint(args...)); f.T.FailNow() }
func (f *failer) Fatalf(format string, args ...any) {
	f.record(fmt.Sprintf(format, args...))
	f.T.FailNow()
}
func (f *failer) Errorf(format string, args ...any) {
	f.record(fmt.Sprintf(format, args...))
	f.T.Fail()
}
func (f *failer) Error(args ...any) { f.record(fmt.Sprint(args...)); f.T.Fail() }

// tbRecorder is a testing.TB that collects errors instead of failing, for Istio's xDS
// validators (they take testing.TB). Embedding the interface provides its private method.
type tbRecorder struct {
	testing.TB
	errors []string
}

type stop struct{}

func (r *tbRecorder) Helper() {}
func (r *tbRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *tbRecorder) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }
func (r *tbRecorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(stop{})
}
func (r *tbRecorder) Fatal(args ...any) { r.Error(args...); panic(stop{}) }
func (r *tbRecorder) FailNow()          { panic(stop{}) }
func (r *tbRecorder) Fail()             {}

func (r *tbRecorder) run(fn func()) {
	if r.errors == nil {
		r.errors = []string{}
	}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stop); !ok {
				panic(p)
			}
		}
	}()
	fn()
}

func jsonMap(b []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return map[string]any{"error": err.Error()}
	}
	return m
}
