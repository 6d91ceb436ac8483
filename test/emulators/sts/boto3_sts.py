"""boto3 against the STS emulator, for real-clients.test.ts.

Reads one JSON request on stdin:
  {"endpoint": "http://127.0.0.1:PORT", "accessKeyId": ..., "secretAccessKey": ...,
   "sessionToken": optional, "operation": "get_caller_identity" | "assume_role", "params": {...}}
and prints one JSON line: {"result": {...}} or, for a botocore ClientError,
{"error": {"code": ..., "message": ...}, "clientError": true, "exception": <class name>}.
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

req = json.load(sys.stdin)
session = boto3.session.Session(
    aws_access_key_id=req["accessKeyId"],
    aws_secret_access_key=req["secretAccessKey"],
    aws_session_token=req.get("sessionToken"),
    region_name="us-east-1",
)
sts = session.client("sts", endpoint_url=req["endpoint"], config=Config(retries={"max_attempts": 1}))
try:
    result = getattr(sts, req["operation"])(**req.get("params", {}))
    result.pop("ResponseMetadata", None)
    print(json.dumps({"result": result}, default=str))
except ClientError as e:
    error = e.response.get("Error", {})
    print(json.dumps({
        "error": {"code": error.get("Code"), "message": error.get("Message")},
        "clientError": isinstance(e, ClientError),
        "exception": type(e).__name__,
    }))
