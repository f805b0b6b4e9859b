package cftest

import "slices"

// A collection is one list of the fake's resources (KV namespaces, buckets,
// D1 databases, custom domains, zone routes) as the handlers of its paths
// reach it: the element a path names, or Cloudflare's 404 for it.
type collection[T any] struct {
	// list is the list in the call's account or zone.
	list func(c *call) *[]T
	// named reports whether v is the element the call's path names.
	named func(c *call, v T) bool
	// missing is Cloudflare's answer when no element is.
	missing func(c *call) reply
	// check, when set, vets the request before the lookup (R2's
	// jurisdiction header); a failure is the answer.
	check func(c *call) *reply
}

// index finds the element the call names: its index, or -1 and the answer.
func (k collection[T]) index(c *call) (int, reply) {
	if k.check != nil {
		if bad := k.check(c); bad != nil {
			return -1, *bad
		}
	}
	i := slices.IndexFunc(*k.list(c), func(v T) bool { return k.named(c, v) })
	if i < 0 {
		return -1, k.missing(c)
	}
	return i, reply{}
}

// on is the handler that answers with f for the element the path names (f
// may change it in place), or with the lookup's failure.
func (k collection[T]) on(f func(c *call, v *T) reply) handler {
	return func(c *call) reply {
		i, rep := k.index(c)
		if i < 0 {
			return rep
		}
		return f(c, &(*k.list(c))[i])
	}
}

// get is the handler that answers the element as view shows it.
func (k collection[T]) get(view func(T) any) handler {
	return k.on(func(_ *call, v *T) reply { return ok(view(*v)) })
}

// remove is the handler that deletes the element and answers what result
// makes of it.
func (k collection[T]) remove(result func(T) any) handler {
	return func(c *call) reply {
		i, rep := k.index(c)
		if i < 0 {
			return rep
		}
		list := k.list(c)
		v := (*list)[i]
		*list = slices.Delete(*list, i, i+1)
		return ok(result(v))
	}
}

// asIs shows an element as it is.
func asIs[T any](v T) any { return v }

// emptyObject answers {} for a deleted element, nothing answers null.
func emptyObject[T any](T) any { return map[string]any{} }
func nothing[T any](T) any     { return nil }
