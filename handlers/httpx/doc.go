// Package httpx holds the few helpers the API handlers share: reading a JSON
// request body within a size limit, parsing the pagination parameters of list
// endpoints, writing JSON responses and list objects, and turning store
// errors into API errors. Every error it produces is an *apierr.Error in the
// spec's shape.
package httpx
