package relay

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/event"
)

// gatedPublisher holds every Publish until its gate opens.
type gatedPublisher struct {
	gate    chan struct{}
	entered chan struct{} // one per Publish begun
	n       atomic.Int32
}

func (p *gatedPublisher) Publish(event.Decision) {
	p.entered <- struct{}{}
	<-p.gate
	p.n.Add(1)
}

// TestRecordsAreWrittenOffTheRequest: the client's answer ends without
// waiting for the request's event to be published, Wait waits for it, and
// past RecordWriters records in flight a request writes its own.
func TestRecordsAreWrittenOffTheRequest(t *testing.T) {
	up := newUpstream(t, healthy("A"))
	fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", up)}}
	pub := &gatedPublisher{gate: make(chan struct{}), entered: make(chan struct{}, RecordWriters+1)}
	rl := New(fp, pub, Options{})
	h := rl.Handler("/responses")

	// With the publisher stuck, RecordWriters answers still end: their
	// records wait beside them.
	for range RecordWriters {
		if resp, body := post(t, h, "conv-1", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, body %s", resp.StatusCode, body)
		}
	}
	if got := pub.n.Load(); got != 0 {
		t.Fatalf("%d events published through a closed gate", got)
	}
	// Every writer is taken: the next request writes its own record, so its
	// answer waits for the publisher.
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		post(t, h, "conv-1", nil)
	}()
	// Once every record has begun, the last is its request's own: the
	// request cannot have ended.
	for range RecordWriters + 1 {
		<-pub.entered
	}
	select {
	case <-ended:
		t.Fatal("a request beyond RecordWriters ended while its record could not be written")
	default:
	}

	var waited sync.WaitGroup
	waited.Add(1)
	go func() { defer waited.Done(); rl.Wait() }()
	close(pub.gate)
	<-ended
	waited.Wait()
	if got, want := pub.n.Load(), int32(RecordWriters+1); got != want {
		t.Fatalf("Wait returned with %d of %d events published", got, want)
	}
}
