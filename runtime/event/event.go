// Package event holds the Kafka side of Skalds: the topic names, the
// TaskEvent message and a publisher and subscriber on segmentio/kafka-go.
//
// An event is a notification ("look at these tasks again"), never the data:
// a node that receives one re-reads the tasks from MongoDB. That is why a
// lost or duplicated event may delay convergence but never change it.
package event

import (
	"encoding/json"
	"errors"
	"time"
)

// The topics of Python Skalds. Producers key every message by task id, so
// the events of one task stay in order.
const (
	TopicAssign           = "task.assign"
	TopicCancel           = "task.cancel"
	TopicUpdateAttachment = "task.update.attachment"
)

// Topics are the topics a node consumes and creates when missing.
var Topics = []string{TopicAssign, TopicCancel, TopicUpdateAttachment}

// TaskEvent is the value of every message on the task topics. It is written
// with the camelCase keys the Python controller writes; reading also accepts
// the snake_case keys that Python scripts send.
type TaskEvent struct {
	ID             *string  `json:"id"`
	Title          *string  `json:"title"`
	Initiator      *string  `json:"initiator"`
	Recipient      *string  `json:"recipient"`
	CreateDateTime int64    `json:"createDateTime"`
	UpdateDateTime int64    `json:"updateDateTime"`
	TaskIDs        []string `json:"taskIds"`
}

// NewTaskEvent returns an event about the given tasks, stamped now.
func NewTaskEvent(taskIDs ...string) TaskEvent {
	now := time.Now().UnixMilli()
	e := TaskEvent{CreateDateTime: now, UpdateDateTime: now, TaskIDs: taskIDs}
	if len(taskIDs) == 1 {
		e.ID = &taskIDs[0]
	}
	return e
}

// UnmarshalJSON accepts both spellings of every key; where a message has
// both, the camelCase one wins.
func (e *TaskEvent) UnmarshalJSON(b []byte) error {
	var w struct {
		ID             *string  `json:"id"`
		Title          *string  `json:"title"`
		Initiator      *string  `json:"initiator"`
		Recipient      *string  `json:"recipient"`
		CreateDateTime *int64   `json:"createDateTime"`
		CreateSnake    *int64   `json:"create_date_time"`
		UpdateDateTime *int64   `json:"updateDateTime"`
		UpdateSnake    *int64   `json:"update_date_time"`
		TaskIDs        []string `json:"taskIds"`
		TaskIDsSnake   []string `json:"task_ids"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = TaskEvent{ID: w.ID, Title: w.Title, Initiator: w.Initiator, Recipient: w.Recipient}
	e.CreateDateTime = first(w.CreateDateTime, w.CreateSnake)
	e.UpdateDateTime = first(w.UpdateDateTime, w.UpdateSnake)
	e.TaskIDs = w.TaskIDs
	if e.TaskIDs == nil {
		e.TaskIDs = w.TaskIDsSnake
	}
	if e.TaskIDs == nil {
		return errors.New("task event has no taskIds")
	}
	return nil
}

func first(a, b *int64) int64 {
	if a != nil {
		return *a
	}
	if b != nil {
		return *b
	}
	return 0
}
