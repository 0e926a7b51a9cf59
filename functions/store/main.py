"""functions-framework entry for the store function (glue only).

Run: functions-framework --source functions/store/main.py --target store \
     --signature-type http --asgi
"""

from imfaas.functions.store.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

store = function_entry("store", create_function, NEEDS)
