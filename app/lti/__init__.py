"""LTI 1.3: Backprop Live as a tool in a learning platform (Canvas, Moodle, Blackboard, Open edX).

    config.py     platforms registered by a JSON file (BACKPROP_LTI_PLATFORMS), the tool's own RSA key
    tokens.py     JWTs: platform messages checked against the platform's JWKS, the tool's messages signed
    launches.py   login states and nonces (one use each), launches a score can be posted for
    grades.py     Assignment and Grade Services: an access token, then a score on the line item
    routes.py     /lti/login, /lti/launch, /lti/deep-link, /lti/jwks, /lti/launches/{id}/score

The flow (docs/LTI.md): the platform starts an OIDC login at /lti/login; the tool sends the browser back to the
platform's authorization endpoint with a state and a nonce; the platform posts a signed id_token to /lti/launch.
A resource link opens the widget (a lesson or a configured run); a deep-linking request opens a picker whose
choice goes back to the platform as a signed LtiDeepLinkingResponse. Exercise results of a lesson opened from a
graded link become a score on the platform's gradebook line item.
"""
