package kafka

// DeleteTopics v1-v6 (by name, or by name or ID from v6).
//
//   - The topic, its partitions, log index rows and producer state are
//     removed in one metastore transaction; its objects become garbage for
//     later collection (objects holding other partitions' data stay in use).
//   - Buffered data of the topic not yet uploaded is dropped.
//   - Unknown names answer UNKNOWN_TOPIC_OR_PARTITION, unknown IDs
//     UNKNOWN_TOPIC_ID.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stratalog/strata/metastore"
)

func handleDeleteTopics(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   metastore.TopicID
	}
	var targets []target
	for _, n := range r.TopicNames {
		n := n
		targets = append(targets, target{name: &n})
	}
	for _, t := range r.Topics {
		targets = append(targets, target{name: t.Topic, id: metastore.TopicID(t.TopicID)})
	}
	for _, tg := range targets {
		out := kmsg.NewDeleteTopicsResponseTopic()
		out.Topic, out.TopicID = tg.name, tg.id
		var name string
		switch {
		case tg.name != nil:
			name = *tg.name
		default:
			if t := srv.topicByID(tg.id); t != nil {
				name = t.Name()
				out.Topic = &name
			}
		}
		if name == "" {
			out.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, out)
			continue
		}
		deleted, err := srv.meta.DeleteTopic(c.ctx, name)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			out.ErrorCode = kerr.UnknownTopicOrPartition.Code
		case err != nil:
			srv.log.Error("delete topic", "topic", name, "err", err)
			out.ErrorCode = kerr.UnknownServerError.Code
			msg := err.Error()
			out.ErrorMessage = &msg
		default:
			out.TopicID = deleted.ID
			srv.reg.RemoveTopic(name)
			srv.log.Info("deleted topic", "topic", name)
		}
		resp.Topics = append(resp.Topics, out)
	}
	f.finish(resp)
}
