package flow

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// checkpoint stores
	_ "gocloud.dev/blob/memblob"  // mem:// checkpoint stores
	_ "gocloud.dev/blob/s3blob"   // s3:// checkpoint stores on any S3-compatible service
	"gocloud.dev/gcerrors"
)

// BlobStore is a CheckpointStore on a gocloud.dev bucket: file:///path (a directory),
// mem://, or s3://bucket (any S3-compatible service: add ?endpoint=http://host:port
// &use_path_style=true for one that is not AWS; credentials come from the usual AWS_*
// environment variables).
type BlobStore struct{ b *blob.Bucket }

// OpenBlobStore opens the bucket at url.
func OpenBlobStore(ctx context.Context, url string) (*BlobStore, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint store %s: %w", url, err)
	}
	return &BlobStore{b: b}, nil
}

// Close releases the bucket.
func (s *BlobStore) Close() error { return s.b.Close() }

// Put implements CheckpointStore.
func (s *BlobStore) Put(ctx context.Context, key string, data []byte) error {
	return s.b.WriteAll(ctx, key, data, nil)
}

// PutIfAbsent implements CheckpointStore with the bucket's if-not-exist precondition.
func (s *BlobStore) PutIfAbsent(ctx context.Context, key string, data []byte) (bool, error) {
	err := s.b.WriteAll(ctx, key, data, &blob.WriterOptions{IfNotExist: true})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return false, nil
	}
	return err == nil, err
}

// Get implements CheckpointStore.
func (s *BlobStore) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := s.b.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	return data, err
}

// List implements CheckpointStore.
func (s *BlobStore) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := s.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, obj.Key)
	}
}

// Delete implements CheckpointStore.
func (s *BlobStore) Delete(ctx context.Context, key string) error {
	err := s.b.Delete(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return err
}
