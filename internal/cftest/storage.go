package cftest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ---- Workers KV namespaces ----

func kvList(c *call) reply { return paged(c.s, c.r, c.a.KVNamespaces) }

func kvTitle(c *call, title, self string) *reply {
	if title == "" || len(title) > 512 {
		rep := invalidBody("title must be 1 to 512 characters")
		return &rep
	}
	for _, ns := range c.a.KVNamespaces {
		if ns.Title == title && ns.ID != self {
			rep := badRequest(10014, "a namespace with this account ID and title already exists")
			return &rep
		}
	}
	return nil
}

func kvCreate(c *call) reply {
	var body struct {
		Title string `json:"title"`
	}
	if !decode(c.r, &body) {
		return fail(http.StatusBadRequest, ErrBadRequest)
	}
	if rep := kvTitle(c, body.Title, ""); rep != nil {
		return *rep
	}
	ns := KVNamespace{ID: c.s.id(), Title: body.Title, SupportsURLEncoding: true}
	c.a.KVNamespaces = append(c.a.KVNamespaces, ns)
	return ok(ns)
}

var kvNamespaces = collection[KVNamespace]{
	list:    func(c *call) *[]KVNamespace { return &c.a.KVNamespaces },
	named:   func(c *call, ns KVNamespace) bool { return ns.ID == c.p["id"] },
	missing: func(*call) reply { return notFound(10013, "get namespace: 'namespace not found'") },
}

var (
	kvGet    = kvNamespaces.get(asIs)
	kvUpdate = kvNamespaces.on(func(c *call, ns *KVNamespace) reply {
		var body struct {
			Title string `json:"title"`
		}
		if !decode(c.r, &body) {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		if rep := kvTitle(c, body.Title, ns.ID); rep != nil {
			return *rep
		}
		ns.Title = body.Title
		return ok(*ns)
	})
	kvDelete = kvNamespaces.remove(emptyObject)
)

// ---- R2 buckets ----

// bucketName is R2's naming rule: 3-63 lower-case letters, digits and
// hyphens, starting and ending with a letter or digit.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

var r2Locations = []string{"apac", "eeur", "enam", "weur", "wnam", "oc"}

// jurisdiction reads cf-r2-jurisdiction: "" for the default one.
func jurisdiction(c *call) (string, *reply) {
	switch j := c.r.Header.Get("cf-r2-jurisdiction"); j {
	case "", "default":
		return "", nil
	case "eu", "fedramp":
		return j, nil
	default:
		rep := invalidBody(fmt.Sprintf("cf-r2-jurisdiction %q is not one of default, eu, fedramp", j))
		return "", &rep
	}
}

// bucketJSON is a bucket as the API answers it.
func bucketJSON(b Bucket) Bucket {
	if b.Jurisdiction == "" {
		b.Jurisdiction = "default"
	}
	b.Lifecycle = nil
	return b
}

func r2List(c *call) reply {
	j, bad := jurisdiction(c)
	if bad != nil {
		return *bad
	}
	q := c.r.URL.Query()
	var names []Bucket
	for _, b := range c.a.Buckets {
		if b.Jurisdiction == j {
			names = append(names, b)
		}
	}
	sort.Slice(names, func(i, k int) bool { return names[i].Name < names[k].Name })
	after := q.Get("start_after")
	if cur := q.Get("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil {
			return badRequest(10029, "The provided cursor is invalid.")
		}
		after = string(b)
	}
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 {
		per = DefaultPerPage
	}
	per = min(per, c.s.maxPerPage)
	out := []Bucket{}
	rest := false
	for _, b := range names {
		if b.Name <= after || !strings.Contains(b.Name, q.Get("name_contains")) {
			continue
		}
		if len(out) == per {
			rest = true
			break
		}
		out = append(out, bucketJSON(b))
	}
	info := cursorInfo{PerPage: per}
	if rest {
		info.Cursor = base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1].Name))
	}
	rep := ok(map[string]any{"buckets": out})
	rep.env.ResultInfo = info
	return rep
}

func storageClass(v string) bool { return v == "Standard" || v == "InfrequentAccess" }

func r2Create(c *call) reply {
	j, bad := jurisdiction(c)
	if bad != nil {
		return *bad
	}
	var body struct {
		Name         string `json:"name"`
		LocationHint string `json:"locationHint"`
		StorageClass string `json:"storageClass"`
	}
	if !decode(c.r, &body) {
		return fail(http.StatusBadRequest, ErrBadRequest)
	}
	if !bucketName.MatchString(body.Name) {
		return badRequest(10005, "The specified bucket name is not valid.")
	}
	loc := strings.ToLower(body.LocationHint)
	if loc == "" {
		loc = "enam"
	}
	if !slices.Contains(r2Locations, loc) {
		return invalidBody(fmt.Sprintf("locationHint %q is not one of %s", body.LocationHint, strings.Join(r2Locations, ", ")))
	}
	if body.StorageClass == "" {
		body.StorageClass = "Standard"
	}
	if !storageClass(body.StorageClass) {
		return invalidBody(fmt.Sprintf("storageClass %q is not Standard or InfrequentAccess", body.StorageClass))
	}
	for _, b := range c.a.Buckets {
		if b.Name == body.Name && b.Jurisdiction == j {
			return fail(http.StatusConflict, Message{10004, "The bucket you tried to create already exists, and you own it."})
		}
	}
	b := Bucket{Name: body.Name, CreationDate: Timestamp, Location: loc, StorageClass: body.StorageClass, Jurisdiction: j}
	c.a.Buckets = append(c.a.Buckets, b)
	return ok(bucketJSON(b))
}

// buckets names a bucket by its name and the request's jurisdiction.
var buckets = collection[Bucket]{
	list: func(c *call) *[]Bucket { return &c.a.Buckets },
	named: func(c *call, b Bucket) bool {
		j, _ := jurisdiction(c)
		return b.Name == c.p["name"] && b.Jurisdiction == j
	},
	missing: func(*call) reply { return notFound(10006, "The specified bucket does not exist.") },
	check: func(c *call) *reply {
		_, bad := jurisdiction(c)
		return bad
	},
}

var (
	r2Get = buckets.get(func(b Bucket) any { return bucketJSON(b) })
	// r2Patch changes a bucket's storage class (header cf-r2-storage-class, no body).
	r2Patch = buckets.on(func(c *call, b *Bucket) reply {
		class := c.r.Header.Get("cf-r2-storage-class")
		if !storageClass(class) {
			return invalidBody(fmt.Sprintf("cf-r2-storage-class %q is not Standard or InfrequentAccess", class))
		}
		b.StorageClass = class
		return ok(bucketJSON(*b))
	})
	r2Delete = buckets.remove(emptyObject)
)

// ---- D1 databases ----

var d1Name = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func d1JSON(db D1Database) map[string]any {
	m := map[string]any{"uuid": db.UUID, "name": db.Name, "created_at": db.CreatedAt, "version": db.Version,
		"num_tables": db.NumTables, "file_size": db.FileSize}
	if db.Jurisdiction != "" {
		m["jurisdiction"] = db.Jurisdiction
	}
	if db.ReadReplication != "" {
		m["read_replication"] = map[string]string{"mode": db.ReadReplication}
	}
	return m
}

func d1List(c *call) reply {
	out := make([]map[string]any, 0, len(c.a.D1Databases))
	name := c.r.URL.Query().Get("name")
	for _, db := range c.a.D1Databases {
		if name == "" || db.Name == name {
			out = append(out, d1JSON(db))
		}
	}
	return paged(c.s, c.r, out)
}

type d1Body struct {
	Name                string `json:"name"`
	Jurisdiction        string `json:"jurisdiction"`
	PrimaryLocationHint string `json:"primary_location_hint"`
	ReadReplication     *struct {
		Mode string `json:"mode"`
	} `json:"read_replication"`
}

func (b d1Body) check() string {
	switch {
	case b.Jurisdiction != "" && b.Jurisdiction != "eu" && b.Jurisdiction != "fedramp":
		return fmt.Sprintf("jurisdiction %q is not eu or fedramp", b.Jurisdiction)
	case b.PrimaryLocationHint != "" && !slices.Contains(r2Locations, b.PrimaryLocationHint):
		return fmt.Sprintf("primary_location_hint %q is not one of %s", b.PrimaryLocationHint, strings.Join(r2Locations, ", "))
	case b.ReadReplication != nil && b.ReadReplication.Mode != "auto" && b.ReadReplication.Mode != "disabled":
		return fmt.Sprintf("read_replication.mode %q is not auto or disabled", b.ReadReplication.Mode)
	}
	return ""
}

func d1Create(c *call) reply {
	var body d1Body
	if !decode(c.r, &body) {
		return fail(http.StatusBadRequest, ErrBadRequest)
	}
	if !d1Name.MatchString(body.Name) {
		return invalidBody(fmt.Sprintf("database name %q is not valid", body.Name))
	}
	if msg := body.check(); msg != "" {
		return invalidBody(msg)
	}
	if slices.ContainsFunc(c.a.D1Databases, func(db D1Database) bool { return db.Name == body.Name }) {
		return badRequest(7502, "A database with that name already exists")
	}
	db := D1Database{UUID: c.s.uuid(), Name: body.Name, CreatedAt: Timestamp, Version: "production", Jurisdiction: body.Jurisdiction}
	if body.ReadReplication != nil {
		db.ReadReplication = body.ReadReplication.Mode
	}
	c.a.D1Databases = append(c.a.D1Databases, db)
	return ok(d1JSON(db))
}

var d1Databases = collection[D1Database]{
	list:  func(c *call) *[]D1Database { return &c.a.D1Databases },
	named: func(c *call, db D1Database) bool { return db.UUID == c.p["db"] },
	missing: func(c *call) reply {
		return notFound(7404, fmt.Sprintf("The database %s could not be found", c.p["db"]))
	},
}

var (
	d1Get = d1Databases.get(func(db D1Database) any { return d1JSON(db) })
	// d1Update takes the full body; only read_replication changes in place.
	d1Update = d1Databases.on(func(c *call, db *D1Database) reply {
		var body d1Body
		if !decode(c.r, &body) {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		if msg := body.check(); msg != "" {
			return invalidBody(msg)
		}
		if body.Name != "" && body.Name != db.Name {
			return invalidBody("a database cannot be renamed")
		}
		if body.ReadReplication == nil {
			return invalidBody("read_replication is required")
		}
		db.ReadReplication = body.ReadReplication.Mode
		return ok(d1JSON(*db))
	})
	d1Delete = d1Databases.remove(nothing)
)
