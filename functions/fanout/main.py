"""functions-framework entry for the fanout function (glue only).

Run: functions-framework --source functions/fanout/main.py --target fanout \
     --signature-type http --asgi
"""

from imfaas.functions.fanout.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

fanout = function_entry("fanout", create_function, NEEDS)
