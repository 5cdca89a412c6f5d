"""What people read: markdown for asset metadata and the trend report files."""
