"""functions-framework entry for the media function (glue only).

Run: functions-framework --source functions/media/main.py --target media \
     --signature-type http --asgi
"""

from imfaas.functions.media.handler import NEEDS, create_function
from imfaas.shared.standalone_function import function_entry

media = function_entry("media", create_function, NEEDS)
