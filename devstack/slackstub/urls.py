"""Where things live on the stub: the Web API, the upload URLs it hands out, stored files."""

API_PREFIX = "/api/"
UPLOAD_PREFIX = "/upload/"
FILES_PREFIX = "/files/"
