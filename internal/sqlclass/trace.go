package sqlclass

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// visitCounts counts, per message type, the parse-tree messages the
// classifier visited. Tests compare it with a plain reflective walk of the
// same tree to prove that the hand-written fast paths skip nothing.
type visitCounts map[protoreflect.FullName]int

func (v visitCounts) add(m proto.Message) {
	v[m.ProtoReflect().Descriptor().FullName()]++
}

// addTree counts m and every message below it.
func (v visitCounts) addTree(m proto.Message) {
	walkTree(m.ProtoReflect(), func(m protoreflect.Message) { v[m.Descriptor().FullName()]++ })
}

// walkTree calls fn for m and every message below it, unwrapping Nodes
// (a Node itself is not reported, only what it holds).
func walkTree(m protoreflect.Message, fn func(protoreflect.Message)) {
	if m.Descriptor().FullName() != "pg_query.Node" {
		fn(m)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkTree(l.Get(i).Message(), fn)
			}
			return true
		}
		walkTree(v.Message(), fn)
		return true
	})
}
