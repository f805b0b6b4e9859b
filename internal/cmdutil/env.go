package cmdutil

// EnvAuthToken holds the stack's zerocost:authToken for the commands that
// call its Workers (verify, deploy's verification, jobs): the products and
// their admin routes want it as a bearer token.
const EnvAuthToken = "ZEROCOST_AUTH_TOKEN"
