// pubsub-ack-endpoint answers Pub/Sub's Publish RPC at once, without reading or keeping the messages: a Pub/Sub
// that is never the limit, as Google's is not for one bridge replica. `make bench-streaming` measures the
// bridge's publisher and the bridge against it beside the emulator, whose own CPU sets the emulator's ceiling.
// For measurements only: it stores nothing and nothing can read from it.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"strconv"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec hands the handlers the request's bytes and sends theirs: nothing is decoded into messages.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

var nextID atomic.Int64

// publish counts the request's messages (PublishRequest field 2) and answers a PublishResponse with one id each.
func publish(request []byte) ([]byte, error) {
	messages := 0
	for len(request) > 0 {
		number, kind, length := protowire.ConsumeTag(request)
		if length < 0 {
			return nil, errors.New("publish request: bad field tag")
		}
		request = request[length:]
		length = protowire.ConsumeFieldValue(number, kind, request)
		if length < 0 {
			return nil, errors.New("publish request: bad field value")
		}
		if number == 2 {
			messages++
		}
		request = request[length:]
	}
	last := nextID.Add(int64(messages))
	response := make([]byte, 0, messages*10)
	for id := last - int64(messages); id < last; id++ {
		response = protowire.AppendTag(response, 1, protowire.BytesType)
		response = protowire.AppendString(response, strconv.FormatInt(id, 10))
	}
	return response, nil
}

// echo answers CreateTopic (Topic in, Topic out) and GetTopic (its topic field is Topic's name field) with the
// request's own bytes.
func echo(request []byte) ([]byte, error) { return request, nil }

func unary(handle func([]byte) ([]byte, error)) grpc.MethodHandler {
	return func(_ any, _ context.Context, decode func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var request []byte
		if err := decode(&request); err != nil {
			return nil, err
		}
		response, err := handle(request)
		return &response, err
	}
}

func main() {
	address := flag.String("address", "127.0.0.1:0", "host:port to listen on")
	flag.Parse()
	listener, err := net.Listen("tcp", *address)
	if err != nil {
		log.Fatal(err)
	}
	server := grpc.NewServer(grpc.MaxRecvMsgSize(20<<20), grpc.ForceServerCodec(rawCodec{}))
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "google.pubsub.v1.Publisher",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Publish", Handler: unary(publish)},
			{MethodName: "CreateTopic", Handler: unary(echo)},
			{MethodName: "GetTopic", Handler: unary(echo)},
		},
	}, struct{}{})
	// The benchmark reads the address from this line (the port is the system's choice by default).
	log.Printf("listening on %s", listener.Addr())
	log.Fatal(server.Serve(listener))
}
