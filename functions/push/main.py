"""functions-framework entry for the push function (glue only).

Run: functions-framework --source functions/push/main.py --target push \
     --signature-type http --asgi
"""

from imfaas.functions.push.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

push = function_entry("push", create_function, NEEDS)
