package store

import (
	"strings"
	"testing"
)

func TestParseRedisURLAccepted(t *testing.T) {
	for _, c := range []struct {
		url, topology, where string
		db                   int
		retries              bool
	}{
		{"redis://127.0.0.1:6379/0", topoSingle, "127.0.0.1:6379", 0, false},
		{"redis://localhost", topoSingle, "localhost:6379", 0, false},
		{"redis://user:s3cret@10.0.0.1:6380/2?dial_timeout=3s", topoSingle, "10.0.0.1:6380", 2, false},
		{"rediss://:s3cret@cache.example:6380/1?max_retries=2", topoSingle, "cache.example:6380", 1, true},
		{"REDIS://127.0.0.1:6379", topoSingle, "127.0.0.1:6379", 0, false},
		{"unix://:s3cret@/run/redis.sock?db=3", topoSingle, "/run/redis.sock", 3, false},
		{"redis+cluster://127.0.0.1:7000", topoCluster, "127.0.0.1:7000", 0, false},
		{"redis+cluster://user:s3cret@h1:7000/?addr=h2:7001&addr=h3:7002", topoCluster, "h1:7000,h2:7001,h3:7002", 0, false},
		{"rediss+cluster://h1:7000/0?addr=h2:7001&max_redirects=5", topoCluster, "h1:7000,h2:7001", 0, false},
		{"redis+sentinel://s1:26379?master_name=mymaster", topoSentinel, `master "mymaster" via sentinels s1:26379`, 0, false},
		{"redis+sentinel://suser:spass@s1:26379/4?master_name=mymaster&addr=s2:26379&username=app&password=s3cret",
			topoSentinel, `master "mymaster" via sentinels s1:26379,s2:26379`, 4, false},
		{"rediss+sentinel://s1:26379?master_name=m&db=2&max_retries=1", topoSentinel, `master "m" via sentinels s1:26379`, 2, true},
	} {
		tg, err := parseRedisURL(c.url)
		if err != nil {
			t.Errorf("parseRedisURL(%q): %v", c.url, err)
			continue
		}
		if tg.topology != c.topology || tg.where != c.where || tg.db != c.db || tg.retries != c.retries {
			t.Errorf("parseRedisURL(%q) = %s at %s db %d retries %v; want %s at %s db %d retries %v", c.url,
				tg.topology, tg.where, tg.db, tg.retries, c.topology, c.where, c.db, c.retries)
		}
		// Building the client dials nothing; closing it must stop whatever it started.
		if err := tg.newClient().Close(); err != nil {
			t.Errorf("%q: Close: %v", c.url, err)
		}
	}
}

func TestParseRedisURLRefused(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"", "no scheme"},
		{"127.0.0.1:6379", "no scheme"},
		{"localhost:6379", "no scheme"},
		{"://:s3cret@h:1", "does not parse"},
		{"http://:s3cret@127.0.0.1:6379", `unknown scheme "http"`},
		{"redis+ring://:s3cret@h:1", `unknown scheme "redis+ring"`},
		{"redis+://:s3cret@h:1", `unknown scheme "redis+"`},
		{"redis+cluster+sentinel://:s3cret@h:1", "unknown scheme"},
		{"redis://:s3cret@127.0.0.1:6379/notadb", "invalid database number"},
		{"redis://:s3cret@127.0.0.1:6379/0?bogus=1", "unexpected option: bogus"},
		{"redis://:s3cret@127.0.0.1:6379/0?dial_timeout=soon", "dial_timeout"},
		{"redis+cluster://:s3cret@h1:7000/3", "only database 0"},
		{"redis+cluster://:s3cret@h1:7000?addr=nohost", "addr"},
		{"redis+cluster://:s3cret@h1:7000?read_only=true", "replicas"},
		{"redis+cluster://:s3cret@h1:7000?route_randomly=1", "replicas"},
		{"redis+sentinel://:s3cret@s1:26379", "master_name"},
		{"redis+sentinel://s1:26379?master_name=m&password=s3cret&replica_only=true", "replicas"},
		{"redis+sentinel://s1:26379/a/b?master_name=m&password=s3cret", "invalid URL path"},
		{"redis://:s3cret@host:port/0", "does not parse"},
		{"redis://:s3c/ret@127.0.0.1:6379", "does not parse"}, // an unencoded '/' in the password
		{"redis+sentinel://s1:26379?master_name=m&password=s3cret%zz", "query does not parse"},
		{"redis+sentinel://s1:26379?master_name=m&password=s3cret;x", "query does not parse"},
	} {
		_, err := parseRedisURL(c.url)
		if err == nil {
			t.Errorf("parseRedisURL(%q) succeeded, want an error containing %q", c.url, c.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, "invalid redis url") {
			t.Errorf("parseRedisURL(%q) = %v; want an invalid-url error containing %q", c.url, err, c.want)
		}
		for _, form := range []string{"redis://", "rediss://", "redis+cluster://", "redis+sentinel://"} {
			if !strings.Contains(msg, form) {
				t.Errorf("parseRedisURL(%q): error does not list the %s form: %v", c.url, form, err)
			}
		}
		for _, secret := range []string{"s3cret", "s3c/ret", "s3c"} {
			if strings.Contains(msg, secret) {
				t.Errorf("parseRedisURL(%q): error leaks the password: %v", c.url, err)
			}
		}
	}
}

func TestRedactRedisURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://user:s3cret@h:1/0", "redis://user:xxxxx@h:1/0"},
		{"redis+sentinel://u:s3cret@s:1?master_name=m&password=s3cret",
			"redis+sentinel://u:xxxxx@s:1?master_name=m&password=xxxxx"},
		{"redis://h:1/0?password=a&password=b", "redis://h:1/0?password=xxxxx&password=xxxxx"},
		{"redis://h:1/0?password=%zz", "redis://h:1/0?(unparsable query)"},
		{"redis://:s3c/ret@h:1", "(unparsable url)"},
	} {
		if got := RedactRedisURL(c.in); got != c.want {
			t.Errorf("RedactRedisURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestScrub(t *testing.T) {
	secrets := urlSecretsOf(t, "redis+sentinel://u:p%40ss%2Fw@h:1?master_name=m&password=q+r")
	msg := scrub("a p@ss/w b p%40ss%2Fw c q r d q+r", secrets)
	if strings.Contains(msg, "p@ss") || strings.Contains(msg, "q r") || strings.Contains(msg, "%40") {
		t.Fatalf("scrub left a secret: %q", msg)
	}
}

func urlSecretsOf(t *testing.T, raw string) []string {
	t.Helper()
	tg, err := parseRedisURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tg.secrets
}
