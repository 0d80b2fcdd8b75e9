// redis_pubsub.go is the Redis store's Broadcaster, on Redis pub/sub: the channel is the key
// prefix plus the topic, so deployments that share a server under different prefixes do not
// hear each other.

package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pubsubPoll bounds one wait for a message. An idle subscription is pinged each time, and
// one that stays silent, pong included, over two polls is dropped and made again.
const pubsubPoll = 5 * time.Second

// Publish implements Broadcaster.
func (s *Redis) Publish(ctx context.Context, topic, msg string) error {
	if err := s.c.Publish(ctx, s.prefix+"pubsub/"+topic, msg).Err(); err != nil {
		return s.mapErr("publish", err)
	}
	return nil
}

// Subscribe implements Broadcaster. go-redis re-dials and re-subscribes a PubSub after a
// receive error; every (re)subscription confirmation is reported as up, every receive error
// as down.
func (s *Redis) Subscribe(ctx context.Context, topic string, fn func(msg string), onState func(up bool)) {
	channel := s.prefix + "pubsub/" + topic
	// The subscription in use; it is replaced when it goes silent.
	var mu sync.Mutex
	ps := s.c.Subscribe(ctx, channel)
	current := func() *redis.PubSub {
		mu.Lock()
		defer mu.Unlock()
		return ps
	}
	renew := func() {
		mu.Lock()
		old := ps
		ps = s.c.Subscribe(ctx, channel)
		mu.Unlock()
		_ = old.Close()
	}
	defer func() { _ = current().Close() }()
	// A receive does not watch ctx: closing the PubSub ends it at once, so Subscribe
	// returns when ctx ends rather than up to pubsubPoll later.
	stop := context.AfterFunc(ctx, func() { _ = current().Close() })
	defer stop()
	lastHeard := time.Now()
	up := false
	setUp := func(v bool) {
		if v != up {
			up = v
			onState(v)
		}
	}
	for ctx.Err() == nil {
		m, err := current().ReceiveTimeout(ctx, pubsubPoll)
		if err != nil {
			if ctx.Err() != nil {
				return // shutting down: not a lost subscription
			}
			var timeout interface{ Timeout() bool }
			if errors.As(err, &timeout) && timeout.Timeout() {
				// Idle. A connection can die without an error (half-open TCP): ping, and
				// if nothing at all, not even the pong, came back over two polls, start
				// over on a fresh connection.
				if time.Since(lastHeard) > 2*pubsubPoll+time.Second {
					setUp(false)
					renew()
					lastHeard = time.Now()
					continue
				}
				_ = current().Ping(ctx)
				continue
			}
			setUp(false)
			if ctx.Err() == nil {
				sleepCtx(ctx, 200*time.Millisecond) // the next receive re-dials
			}
			continue
		}
		lastHeard = time.Now()
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// Anything published while the subscription was down is lost: report down
				// then up, so the subscriber drops what it cached meanwhile.
				setUp(false)
				setUp(true)
			}
		case *redis.Message:
			fn(m.Payload)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

var _ Broadcaster = (*Redis)(nil)
