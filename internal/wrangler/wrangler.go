// Package wrangler holds the typed subset of wrangler's configuration file that
// zerocost renders, and a strict decoder for it: a key zerocost does not know is
// an error, not a silent no-op.
package wrangler

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is a wrangler.toml as zerocost writes it.
type Config struct {
	Name               string             `toml:"name"`
	Main               string             `toml:"main"`
	CompatibilityDate  string             `toml:"compatibility_date"`
	CompatibilityFlags []string           `toml:"compatibility_flags"`
	WorkersDev         *bool              `toml:"workers_dev"`
	Routes             []Route            `toml:"routes"`
	Triggers           *Triggers          `toml:"triggers"`
	Vars               map[string]string  `toml:"vars"`
	R2Buckets          []R2Bucket         `toml:"r2_buckets"`
	Queues             *Queues            `toml:"queues"`
	RateLimits         []RateLimit        `toml:"ratelimits"`
	AnalyticsEngine    []AnalyticsDataset `toml:"analytics_engine_datasets"`
	D1Databases        []D1Database       `toml:"d1_databases"`
	KVNamespaces       []KVNamespace      `toml:"kv_namespaces"`
	Workflows          []Workflow         `toml:"workflows"`
}

// Workflow binds a Workflow whose class the Worker exports (ScriptName
// empty: this Worker).
type Workflow struct {
	Binding    string `toml:"binding"`
	Name       string `toml:"name"`
	ClassName  string `toml:"class_name"`
	ScriptName string `toml:"script_name"`
}

// Route is a zone route or a custom domain.
type Route struct {
	Pattern      string `toml:"pattern"`
	ZoneID       string `toml:"zone_id"`
	CustomDomain bool   `toml:"custom_domain"`
}

// Triggers holds cron schedules.
type Triggers struct {
	Crons []string `toml:"crons"`
}

// R2Bucket is an R2 binding.
type R2Bucket struct {
	Binding    string `toml:"binding"`
	BucketName string `toml:"bucket_name"`
}

// Queues holds producers and consumers.
type Queues struct {
	Producers []Producer `toml:"producers"`
	Consumers []Consumer `toml:"consumers"`
}

// Producer binds a queue for sending.
type Producer struct {
	Binding string `toml:"binding"`
	Queue   string `toml:"queue"`
}

// Consumer makes the Worker consume a queue. Times are in seconds, as wrangler has them.
type Consumer struct {
	Queue           string `toml:"queue"`
	MaxBatchSize    int    `toml:"max_batch_size"`
	MaxBatchTimeout int    `toml:"max_batch_timeout"`
	MaxRetries      int    `toml:"max_retries"`
	RetryDelay      int    `toml:"retry_delay"`
	DeadLetterQueue string `toml:"dead_letter_queue"`
	MaxConcurrency  int    `toml:"max_concurrency"`
}

// RateLimit is a Workers rate-limiting binding.
type RateLimit struct {
	Name        string          `toml:"name"`
	NamespaceID string          `toml:"namespace_id"`
	Simple      RateLimitSimple `toml:"simple"`
}

// RateLimitSimple is the limit per period (10 or 60 seconds).
type RateLimitSimple struct {
	Limit  int `toml:"limit"`
	Period int `toml:"period"`
}

// AnalyticsDataset is a Workers Analytics Engine binding.
type AnalyticsDataset struct {
	Binding string `toml:"binding"`
	Dataset string `toml:"dataset"`
}

// D1Database is a D1 binding. DatabaseID is the database's UUID.
type D1Database struct {
	Binding      string `toml:"binding"`
	DatabaseName string `toml:"database_name"`
	DatabaseID   string `toml:"database_id"`
}

// KVNamespace is a Workers KV binding. ID is the namespace's id.
type KVNamespace struct {
	Binding string `toml:"binding"`
	ID      string `toml:"id"`
}

// Decode parses a wrangler.toml strictly: TOML errors and keys that Config does
// not define are both errors. source names the file in messages.
func Decode(source string, data []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key(s) %s: zerocost does not know what they mean", source, strings.Join(keys, ", "))
	}
	return &c, nil
}
