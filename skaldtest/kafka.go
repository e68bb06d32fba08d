package skaldtest

import (
	"context"
	"fmt"
	"strings"

	"github.com/segmentio/kafka-go"
)

// GroupCommitted reports whether a consumer group has committed an offset
// for every partition of topic on the broker at addr: the group whose id is
// group, or, with prefix, any group whose id starts with group+"_" (a
// Python Skalds worker's group is its task id and a suffix). It returns
// that group's id, or why not yet.
//
// Python Skalds consumers start at the newest offset and commit every
// 5 s: a message produced before the group has committed may fall before
// its starting position and never reach it. So a test or benchmark waits
// for this before it publishes, instead of sleeping.
func GroupCommitted(ctx context.Context, addr, group string, prefix bool, topic string) (id string, ok bool, why string) {
	c := &kafka.Client{Addr: kafka.TCP(addr)}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) == 0 || meta.Topics[0].Error != nil {
		if err == nil && len(meta.Topics) > 0 {
			err = meta.Topics[0].Error
		}
		return "", false, fmt.Sprintf("metadata of %s: %v", topic, err)
	}
	parts := len(meta.Topics[0].Partitions)
	ids := []string{group}
	if prefix {
		ids = nil
		res, err := c.ListGroups(ctx, &kafka.ListGroupsRequest{})
		if err != nil {
			return "", false, fmt.Sprintf("listing groups: %v", err)
		}
		for _, g := range res.Groups {
			if strings.HasPrefix(g.GroupID, group+"_") {
				ids = append(ids, g.GroupID)
			}
		}
		if len(ids) == 0 {
			return "", false, "no group " + group + "_* yet"
		}
	}
	all := make([]int, parts)
	for i := range all {
		all[i] = i
	}
	why = "no partitions"
	for _, id := range ids {
		res, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: id, Topics: map[string][]int{topic: all}})
		if err != nil {
			why = fmt.Sprintf("offsets of %s: %v", id, err)
			continue
		}
		committed := 0
		for _, p := range res.Topics[topic] {
			if p.Error == nil && p.CommittedOffset >= 0 {
				committed++
			}
		}
		if parts > 0 && committed == parts {
			return id, true, ""
		}
		why = fmt.Sprintf("group %s committed %d of %d partitions of %s", id, committed, parts, topic)
	}
	return "", false, why
}
