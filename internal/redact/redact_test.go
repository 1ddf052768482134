package redact

import "testing"

func TestURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"userinfo password", "postgres://u:hunter2@db:5432/strata", "postgres://u:xxxxx@db:5432/strata"},
		{"userinfo without password", "postgres://u@db/strata", "postgres://u@db/strata"},
		{"password param", "postgres://u@db/strata?sslmode=require&password=hunter2",
			"postgres://u@db/strata?sslmode=require&password=xxxxx"},
		{"sslpassword param", "postgresql://db/x?sslpassword=hunter2", "postgresql://db/x?sslpassword=xxxxx"},
		{"secret param", "postgres://db/x?secret=hunter2&search_path=s1", "postgres://db/x?secret=xxxxx&search_path=s1"},
		{"both", "postgres://u:pw@db/x?password=hunter2", "postgres://u:xxxxx@db/x?password=xxxxx"},
		{"s3 keys", "s3://bucket/prefix?endpoint=http://minio:9000&access_key=AKIA1&secret_key=hunter2&region=us-east-1",
			"s3://bucket/prefix?endpoint=http://minio:9000&access_key=xxxxx&secret_key=xxxxx&region=us-east-1"},
		{"aws names, any case", "s3://b/p?AWS_SECRET_ACCESS_KEY=hunter2&Session_Token=tok&aws_access_key_id=AKIA1",
			"s3://b/p?AWS_SECRET_ACCESS_KEY=xxxxx&Session_Token=xxxxx&aws_access_key_id=xxxxx"},
		{"escaped name", "s3://b/p?secret%5Fkey=hunter2", "s3://b/p?secret%5Fkey=xxxxx"},
		{"no secrets unchanged", "s3://bucket/prefix?region=us-east-1&path_style=true&endpoint=http%3A%2F%2Fminio",
			"s3://bucket/prefix?region=us-east-1&path_style=true&endpoint=http%3A%2F%2Fminio"},
		{"postgres without secrets unchanged", "postgres://db:5432/strata?search_path=a,b&sslmode=disable",
			"postgres://db:5432/strata?search_path=a,b&sslmode=disable"},
		{"sqlite path unchanged", "sqlite://strata-data/meta.db", "sqlite://strata-data/meta.db"},
		{"file unchanged", "file:///var/lib/strata/objects", "file:///var/lib/strata/objects"},
		{"plain word unchanged", "meta.db", "meta.db"},
		{"empty", "", ""},
		{"unparseable", "postgres://u:hunter2@[::1/db", "<unparseable URL>"},
		{"dsn password", "host=db user=u password=hunter2 sslmode=require", "host=db user=u password=xxxxx sslmode=require"},
		{"dsn quoted password", "host=db password='hunter 2\\' x' dbname=strata", "host=db password=xxxxx dbname=strata"},
		{"dsn spaces around =", "host = db password = hunter2", "host = db password = xxxxx"},
		{"dsn without secrets unchanged", "host=db dbname=strata sslmode=disable", "host=db dbname=strata sslmode=disable"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("%s: URL(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
