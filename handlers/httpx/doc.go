// Package httpx is the one way the API handlers speak HTTP: reading a
// request body within a size limit and decoding it as JSON, parsing the
// pagination parameters of list endpoints, writing JSON responses and list
// objects, the API's one 404 (WriteRouteNotFound), 405
// (WriteMethodNotAllowed) and 413 (via apierr.RequestTooLarge) answers,
// matching requests against a set of routes (RouteSet, behind the one list
// of public routes), turning store errors into API errors, and Routes,
// which adapts CRUD routes that return their error instead of writing it.
// Every error it produces is an *apierr.Error in the spec's shape.
package httpx
