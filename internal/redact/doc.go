// Package redact hides the secrets in connection strings before they are
// logged or put in an error message.
//
// # Basics
//
// URL takes a URL (postgres://, s3://, ...) or a libpq key=value DSN and
// replaces with "xxxxx" the userinfo password and the value of every
// parameter whose name says it is secret: anything containing "password",
// "secret", "token" or "key", case-insensitively (password, sslpassword,
// access_key, secret_key, aws_secret_access_key, session_token, ...). A
// string without secrets is returned exactly as given, so it can be
// searched for in logs.
//
// # Caveats
//
// A string with "://" that does not parse as a URL cannot be taken apart
// safely and is replaced whole by "<unparseable URL>": better an
// unhelpful log line than a leaked password.
//
// The name test is deliberately broad: a harmless parameter such as
// sslkey (a file path) is hidden too.
package redact
