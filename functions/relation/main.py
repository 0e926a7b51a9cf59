"""functions-framework entry for the relation function (glue only).

Run: functions-framework --source functions/relation/main.py --target relation \
     --signature-type http --asgi
"""

from imfaas.functions.relation.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

relation = function_entry("relation", create_function, NEEDS)
