// The deep-linking answer goes back to the learning platform as a form post, at once (a file, not an inline
// script, so a strict Content-Security-Policy allows it).
document.getElementById("lti-post")?.submit();
