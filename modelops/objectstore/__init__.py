"""`s3://` artifacts: S3 and S3-compatible stores as a model source (fetch) and destination (push).

Imported by the server's `fetch` step and by `modelctl push`; boto3 is imported only when a transfer
starts, so the rest of modelops does not need it.
"""
