"""The size limits of every write body, in one place.

The API serializers, the dashboard's forms and the prompt builder all read these, so a
policy the dashboard accepts is one the API accepts, and every check stays linear in a
body that is bounded before it is walked. A write over a limit answers 400
``invalid_request`` naming the field.
"""

from __future__ import annotations

# --- Policies (policies/api/serializers.py, policies/forms.py) ------------------------
POLICY_MAX_ROWS = 200  # criteria, violation_codes, categories: each list
POLICY_MAX_KEY_LENGTH = 64  # a row's id or code
POLICY_MAX_ROW_DESCRIPTION = 500
POLICY_MAX_NAME = 200
POLICY_MAX_DESCRIPTION = 2_000
POLICY_MAX_FEEDBACK_GUIDANCE = 2_000
# The system prompt a policy produces (verifications/engine/prompt.py), in characters
# (~16k tokens). Built-in policies produce about 3,000. A write whose prompt would be longer
# is refused, so a legal policy always reaches the model whole.
POLICY_MAX_PROMPT_CHARS = 64_000

# --- Webhook endpoints (webhooks/api/serializers.py) ----------------------------------
WEBHOOK_MAX_URL = 2_048
WEBHOOK_MAX_EVENTS = 20
WEBHOOK_MAX_DESCRIPTION = 500

# --- Streams (streams/api/serializers.py); text fields take the model's max_length -----
STREAM_MAX_EXPECTED_THROUGHPUT = 1_000_000  # frames per minute

# --- POST /verify (verifications/api/serializers.py) -----------------------------------
VERIFY_MAX_POLICY_ID = 64
METADATA_MAX_BYTES = 16 * 1024  # serialized as JSON
METADATA_MAX_DEPTH = 8  # {"gps": {"lat": 1}} is 2
METADATA_MAX_KEYS = 256  # keys at every level together
METADATA_MAX_KEY_LENGTH = 128
