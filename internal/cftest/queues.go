package cftest

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
)

type producerJSON struct {
	Type   string `json:"type"`
	Script string `json:"script"`
}

type queueJSON struct {
	QueueID             string         `json:"queue_id"`
	QueueName           string         `json:"queue_name"`
	CreatedOn           string         `json:"created_on"`
	ModifiedOn          string         `json:"modified_on"`
	Settings            QueueSettings  `json:"settings"`
	Consumers           []consumerJSON `json:"consumers"`
	ConsumersTotalCount int            `json:"consumers_total_count"`
	Producers           []producerJSON `json:"producers"`
	ProducersTotalCount int            `json:"producers_total_count"`
}

// consumerJSON is a consumer as the API answers it: `script` is what the
// live API (and the Terraform provider) use, `script_name` what
// cloudflare-go's schema names; both carry the Worker's name.
type consumerJSON struct {
	ConsumerID      string           `json:"consumer_id"`
	CreatedOn       string           `json:"created_on"`
	QueueID         string           `json:"queue_id"`
	QueueName       string           `json:"queue_name"`
	Script          string           `json:"script,omitempty"`
	ScriptName      string           `json:"script_name,omitempty"`
	Type            string           `json:"type"`
	DeadLetterQueue string           `json:"dead_letter_queue"`
	Settings        ConsumerSettings `json:"settings"`
}

func (q *Queue) consumerJSON(c Consumer) consumerJSON {
	return consumerJSON{ConsumerID: c.ID, CreatedOn: c.CreatedOn, QueueID: q.ID, QueueName: q.Name,
		Script: c.ScriptName, ScriptName: c.ScriptName, Type: c.Type, DeadLetterQueue: c.DeadLetterQueue, Settings: c.Settings}
}

// json is the queue as the API answers it; its producers are the account's
// Workers with a binding to it.
func (q *Queue) json(a *Account) queueJSON {
	cs := make([]consumerJSON, len(q.Consumers))
	for i, c := range q.Consumers {
		cs[i] = q.consumerJSON(c)
	}
	ps := []producerJSON{}
	for _, sc := range a.Scripts {
		if slices.ContainsFunc(sc.Bindings, func(b Binding) bool { return b.Type == "queue" && b.QueueName == q.Name }) {
			ps = append(ps, producerJSON{Type: "worker", Script: sc.Name})
		}
	}
	return queueJSON{QueueID: q.ID, QueueName: q.Name, CreatedOn: q.CreatedOn, ModifiedOn: q.ModifiedOn, Settings: q.Settings,
		Consumers: cs, ConsumersTotalCount: len(cs), Producers: ps, ProducersTotalCount: len(ps)}
}

// queueName is the Queues naming rule: lower-case letters, digits and
// dashes, at most 63.
var queueName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func queueList(c *call) reply {
	all := make([]queueJSON, len(c.a.Queues))
	for i, q := range c.a.Queues {
		all[i] = q.json(c.a)
	}
	return paged(c.s, c.r, all)
}

type queueBody struct {
	QueueName string `json:"queue_name"`
	Settings  *struct {
		DeliveryDelay          *float64 `json:"delivery_delay"`
		DeliveryPaused         *bool    `json:"delivery_paused"`
		MessageRetentionPeriod *float64 `json:"message_retention_period"`
	} `json:"settings"`
}

// apply checks the body and sets its settings on st.
func (b queueBody) apply(st *QueueSettings) string {
	if !queueName.MatchString(b.QueueName) {
		return fmt.Sprintf("queue_name %q is not valid: lower-case letters, digits and dashes, at most 63", b.QueueName)
	}
	if b.Settings == nil {
		return ""
	}
	next := *st
	if v := b.Settings.DeliveryDelay; v != nil {
		n, msg := whole("settings.delivery_delay", *v, 0, 43200)
		if msg != "" {
			return msg
		}
		next.DeliveryDelay = n
	}
	if v := b.Settings.DeliveryPaused; v != nil {
		next.DeliveryPaused = *v
	}
	if v := b.Settings.MessageRetentionPeriod; v != nil {
		n, msg := whole("settings.message_retention_period", *v, 60, 1209600)
		if msg != "" {
			return msg
		}
		next.MessageRetentionPeriod = n
	}
	*st = next
	return ""
}

// whole converts a JSON number to an int within lo..hi.
func whole(name string, v float64, lo, hi int) (int, string) {
	if v != math.Trunc(v) || v < float64(lo) || v > float64(hi) {
		return 0, fmt.Sprintf("%s must be a whole number from %d to %d, not %v", name, lo, hi, v)
	}
	return int(v), ""
}

// queueBody reads a create or update body of queue self (nil for a new
// queue): the name, and the settings it makes of self's (or the defaults).
func (c *call) queueBody(self *Queue) (string, QueueSettings, *reply) {
	var body queueBody
	if !decode(c.r, &body) {
		rep := fail(http.StatusBadRequest, ErrBadRequest)
		return "", QueueSettings{}, &rep
	}
	st := DefaultQueueSettings
	if self != nil {
		st = self.Settings
	}
	if msg := body.apply(&st); msg != "" {
		rep := invalidBody(msg)
		return "", QueueSettings{}, &rep
	}
	if other := c.s.queueByName(c.a, body.QueueName); other != nil && other != self {
		rep := fail(http.StatusConflict, Message{11009, "A queue with this name already exists"})
		return "", QueueSettings{}, &rep
	}
	return body.QueueName, st, nil
}

func queueCreate(c *call) reply {
	name, st, bad := c.queueBody(nil)
	if bad != nil {
		return *bad
	}
	q := &Queue{ID: c.s.id(), Name: name, CreatedOn: Timestamp, ModifiedOn: Timestamp, Settings: st}
	c.a.Queues = append(c.a.Queues, q)
	return ok(q.json(c.a))
}

func queueOf(c *call) (*Queue, reply) {
	q := c.s.queueByID(c.a, c.p["queue"])
	if q == nil {
		return nil, notFound(11000, "Queue does not exist")
	}
	return q, reply{}
}

func queueGet(c *call) reply {
	q, rep := queueOf(c)
	if q == nil {
		return rep
	}
	return ok(q.json(c.a))
}

// queueUpdate replaces a queue's name and settings (a rename is an update).
func queueUpdate(c *call) reply {
	q, rep := queueOf(c)
	if q == nil {
		return rep
	}
	name, st, bad := c.queueBody(q)
	if bad != nil {
		return *bad
	}
	q.Name, q.Settings = name, st
	for i := range q.Consumers {
		q.Consumers[i].QueueName = q.Name
	}
	return ok(q.json(c.a))
}

func queueDelete(c *call) reply {
	q, rep := queueOf(c)
	if q == nil {
		return rep
	}
	c.a.Queues = slices.DeleteFunc(c.a.Queues, func(x *Queue) bool { return x == q })
	return ok(map[string]any{})
}

func consumerList(c *call) reply {
	q, rep := queueOf(c)
	if q == nil {
		return rep
	}
	cs := make([]consumerJSON, len(q.Consumers))
	for i, x := range q.Consumers {
		cs[i] = q.consumerJSON(x)
	}
	return paged(c.s, c.r, cs)
}

type consumerBody struct {
	Type            string                `json:"type"`
	ScriptName      *string               `json:"script_name"`
	DeadLetterQueue *string               `json:"dead_letter_queue"`
	Settings        *consumerSettingsBody `json:"settings"`
}

type consumerSettingsBody struct {
	BatchSize           *float64 `json:"batch_size"`
	MaxConcurrency      *float64 `json:"max_concurrency"`
	MaxRetries          *float64 `json:"max_retries"`
	MaxWaitTimeMs       *float64 `json:"max_wait_time_ms"`
	RetryDelay          *float64 `json:"retry_delay"`
	VisibilityTimeoutMs *float64 `json:"visibility_timeout_ms"`
}

// consumer reads and checks a create or update body and builds the consumer
// (without id); settings it does not set take Cloudflare's defaults (batch of
// 10, 3 retries, 5 s wait, no delay; 30 s visibility for http_pull).
func (c *call) consumer(q *Queue) (Consumer, *reply) {
	var body consumerBody
	if !decode(c.r, &body) {
		rep := fail(http.StatusBadRequest, ErrBadRequest)
		return Consumer{}, &rep
	}
	bad := func(msg string) (Consumer, *reply) {
		rep := invalidBody(msg)
		return Consumer{}, &rep
	}
	out := Consumer{Type: body.Type}
	if out.Type == "" {
		out.Type = "worker"
	}
	switch out.Type {
	case "worker":
		if body.ScriptName == nil || *body.ScriptName == "" {
			return bad("a worker consumer needs script_name")
		}
		if c.s.script(c.a, *body.ScriptName) == nil {
			rep := notFound(10007, "This Worker does not exist on your account.")
			return Consumer{}, &rep
		}
		out.ScriptName = *body.ScriptName
	case "http_pull":
		if body.ScriptName != nil && *body.ScriptName != "" {
			return bad("an http_pull consumer has no script_name")
		}
	default:
		return bad(fmt.Sprintf("type %q is not worker or http_pull", body.Type))
	}
	st, msg := consumerSettings(out.Type, body.Settings)
	if msg != "" {
		return bad(msg)
	}
	out.Settings = st
	if body.DeadLetterQueue != nil && *body.DeadLetterQueue != "" {
		dlq := *body.DeadLetterQueue
		if dlq == q.Name {
			return bad("a queue cannot be its own dead-letter queue")
		}
		if !queueName.MatchString(dlq) {
			return bad(fmt.Sprintf("dead_letter_queue %q is not a valid queue name", dlq))
		}
		out.DeadLetterQueue = dlq
	}
	return out, nil
}

// consumerSettings reads a consumer's settings, each within Cloudflare
// Queues' range, over the defaults of its type; msg says what is wrong.
func consumerSettings(typ string, s *consumerSettingsBody) (ConsumerSettings, string) {
	st := ConsumerSettings{BatchSize: 10, MaxRetries: 3, MaxWaitTimeMs: 5000}
	if typ == "http_pull" {
		st = ConsumerSettings{BatchSize: 10, MaxRetries: 3, VisibilityTimeoutMs: ptr(30000)}
	}
	if s != nil {
		type num struct {
			v      *float64
			name   string
			lo, hi int
			set    func(int)
		}
		nums := []num{
			{s.BatchSize, "batch_size", 1, 100, func(n int) { st.BatchSize = n }},
			{s.MaxRetries, "max_retries", 0, 100, func(n int) { st.MaxRetries = n }},
			{s.RetryDelay, "retry_delay", 0, 43200, func(n int) { st.RetryDelay = n }},
		}
		if typ == "worker" {
			nums = append(nums,
				num{s.MaxWaitTimeMs, "max_wait_time_ms", 0, 60000, func(n int) { st.MaxWaitTimeMs = n }},
				num{s.MaxConcurrency, "max_concurrency", 1, 250, func(n int) { st.MaxConcurrency = ptr(n) }})
			if s.VisibilityTimeoutMs != nil {
				return st, ("settings.visibility_timeout_ms is for http_pull consumers")
			}
		} else {
			nums = append(nums, num{s.VisibilityTimeoutMs, "visibility_timeout_ms", 0, 43200000, func(n int) { st.VisibilityTimeoutMs = ptr(n) }})
			if s.MaxWaitTimeMs != nil || s.MaxConcurrency != nil {
				return st, ("settings.max_wait_time_ms and max_concurrency are for worker consumers")
			}
		}
		for _, n := range nums {
			if n.v == nil {
				continue
			}
			v, msg := whole("settings."+n.name, *n.v, n.lo, n.hi)
			if msg != "" {
				return st, msg
			}
			n.set(v)
		}
	}
	return st, ""
}

func ptr[T any](v T) *T { return &v }

// ensureDLQ creates a consumer's dead-letter queue when it does not exist,
// as Cloudflare does.
func (c *call) ensureDLQ(name string) {
	if name != "" && c.s.queueByName(c.a, name) == nil {
		c.a.Queues = append(c.a.Queues, &Queue{ID: c.s.id(), Name: name, CreatedOn: Timestamp, ModifiedOn: Timestamp, Settings: DefaultQueueSettings})
	}
}

func consumerCreate(c *call) reply {
	q, rep := queueOf(c)
	if q == nil {
		return rep
	}
	cons, bad := c.consumer(q)
	if bad != nil {
		return *bad
	}
	// A queue has one consumer.
	if len(q.Consumers) > 0 {
		return fail(http.StatusConflict, Message{11004, "workers.api.error.consumer_exists"})
	}
	c.ensureDLQ(cons.DeadLetterQueue)
	cons.ID, cons.QueueName, cons.CreatedOn = c.s.id(), q.Name, Timestamp
	q.Consumers = append(q.Consumers, cons)
	return ok(q.consumerJSON(cons))
}

func consumerIndex(c *call) (*Queue, int, reply) {
	q, rep := queueOf(c)
	if q == nil {
		return nil, -1, rep
	}
	i := slices.IndexFunc(q.Consumers, func(x Consumer) bool { return x.ID == c.p["consumer"] })
	if i < 0 {
		return nil, -1, notFound(11001, "Consumer does not exist")
	}
	return q, i, reply{}
}

func consumerGet(c *call) reply {
	q, i, rep := consumerIndex(c)
	if i < 0 {
		return rep
	}
	return ok(q.consumerJSON(q.Consumers[i]))
}

func consumerUpdate(c *call) reply {
	q, i, rep := consumerIndex(c)
	if i < 0 {
		return rep
	}
	cons, bad := c.consumer(q)
	if bad != nil {
		return *bad
	}
	c.ensureDLQ(cons.DeadLetterQueue)
	old := q.Consumers[i]
	cons.ID, cons.QueueName, cons.CreatedOn = old.ID, q.Name, old.CreatedOn
	q.Consumers[i] = cons
	return ok(q.consumerJSON(cons))
}

func consumerDelete(c *call) reply {
	q, i, rep := consumerIndex(c)
	if i < 0 {
		return rep
	}
	q.Consumers = slices.Delete(q.Consumers, i, i+1)
	return ok(map[string]any{})
}
