package store

import "context"

// Broadcaster is implemented by stores that several gateway instances share (Redis): a
// message published by any instance reaches every instance subscribed to the topic, itself
// included. Delivery is at most once and only while a subscription is up; a subscriber that
// was down must assume it missed messages (onState reports it).
type Broadcaster interface {
	// Publish sends msg to every current subscriber of topic.
	Publish(ctx context.Context, topic, msg string) error
	// Subscribe calls fn with every message on topic until ctx ends, and onState with true
	// each time the subscription is (re)established and false each time it is lost; it
	// reconnects by itself. It returns when ctx ends.
	Subscribe(ctx context.Context, topic string, fn func(msg string), onState func(up bool))
}
