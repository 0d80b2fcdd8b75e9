// redis_pubsub.go is the Redis store's Broadcaster, on Redis pub/sub: the channel is the key
// prefix plus the topic, so deployments that share a server under different prefixes do not
// hear each other.

package store

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// pubsubPoll bounds one wait for a message, so a lost connection is noticed (go-redis pings
// an idle subscription) and ctx is checked.
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
	ps := s.c.Subscribe(ctx, channel)
	defer ps.Close()
	up := false
	setUp := func(v bool) {
		if v != up {
			up = v
			onState(v)
		}
	}
	for ctx.Err() == nil {
		m, err := ps.ReceiveTimeout(ctx, pubsubPoll)
		if err != nil {
			var timeout interface{ Timeout() bool }
			if errors.As(err, &timeout) && timeout.Timeout() {
				continue // idle: go-redis's ping keeps the connection checked
			}
			setUp(false)
			if ctx.Err() == nil {
				sleepCtx(ctx, 200*time.Millisecond) // the next receive re-dials
			}
			continue
		}
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
