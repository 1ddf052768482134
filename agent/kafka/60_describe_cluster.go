package kafka

// DescribeCluster v0-v1: the live agents as brokers, the controller id
// Metadata reports, and the cluster id. Only the broker endpoint type (1)
// exists; asking for controllers (2) is UNSUPPORTED_ENDPOINT_TYPE.
// Authorized operations are not computed (no ACLs): -2147483648.
// Addresses are those of the listener the client connected to.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func handleDescribeCluster(c *conn, req kmsg.Request, f *inflight) {
	srv := c.srv
	r := req.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = r.EndpointType
	if r.Version >= 1 && r.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "only the broker endpoint type is served"
		resp.ErrorMessage = &msg
		f.finish(resp)
		return
	}
	brokers, controller, _ := srv.brokers(c.ctx, c.lst.Name)
	resp.ClusterID, resp.ControllerID = srv.clusterID, controller
	resp.ClusterAuthorizedOperations = -2147483648
	for _, b := range brokers {
		db := kmsg.NewDescribeClusterResponseBroker()
		db.NodeID, db.Host, db.Port, db.Rack = b.NodeID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, db)
	}
	f.finish(resp)
}
