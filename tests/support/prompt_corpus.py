"""What real prompts hold, as the exact texts a render must give back: the corpus of issue 18.

Each text is what a user wants rendered, byte for byte: code and template snippets full of
"{{", JSON, stray braces, backslashes before braces, tabs, trailing spaces, CRLF, long lines,
non-ASCII, final newlines from none to several, leading blank lines and "---" lines.
"""

from __future__ import annotations

LONG = "x" * 1500 + " {{ not_a_var }} " + "y" * 600

TEXTS: dict[str, str] = {
    "code-block": "Review this:\n\n```js\nconst t = `{{ user.name }}`;\nif (a) { b(); }\n```\n",
    "handlebars": "{{#each items}}\n  <li>{{this}}</li>\n{{/each}}\n{{! a comment }}\n"
                  "{{> partial }}\n{{{raw}}}\n",
    "handlebars-escaped": "Write \\{{name}} to show a literal in Handlebars.\n",
    "jinja-expressions": "{{ user.name | title }} and {# a comment #} and {{ '{{' }}\n",
    "vue": "<h1>{{ frontmatter.title }}</h1>\n<p v-if=\"ok\">{{ $t('hello') }}</p>\n",
    "scanner": "GET {{BaseURL}}/admin HTTP/1.1\nHost: {{Hostname}}\n\n",
    "converter": "Convert the following code:\n{{code here}}",
    "json": '{"a": {"b": [1, 2]}, "c": "}}", "d": "{{"}\n',
    "single-braces": "f(x) = {x | x > 0}; set {a, b}; stray }} and { alone }\n",
    "many-braces": "{{{ three }}} {{{{four}}}} {{}} {{ }} {{\n",
    "backslashes": "C:\\{{dir}}\\file, \\\\{{ both }}, \\{ and a final \\",
    "ends-open": "ends with {{",
    "tabs": "\tindented by a tab\n\t\ttwo tabs\tand one inside\n",
    "trailing-spaces": "trailing spaces   \nand a tab\t\n  \n",
    "crlf": "line one\r\nline {{ two }}\r\n\r\n",
    "lone-cr": "old mac\rline\n",
    "long-line": LONG + "\n",
    "non-ascii": "Привет, {{ имя }}! 你好 😀 café — naïve\n👩‍💻 works\n",
    "no-final-newline": "no newline at the end",
    "several-finals": "three final newlines\n\n\n",
    "leading-blank-lines": "\n\n  starts after two blank lines\n",
    "leading-spaces": "    an indented first line\nthen not\n",
    "spaces-only-first-line": "   \nafter a line of spaces\n",
    "document-markers": "---\ntitle: x\n---\nbody\n...\n--- \n",
    "markdown": "# Heading\n\n- item: value\n> quote #not a comment\n\n| a | b |\n",
    "quotes": "She said \"hi\" and 'bye' \\ then left: # done\n",
    "line-separators": "a\u2028b\u2029c\x85d\n",
    "bom-inside": "a\ufeffb\n",
    "controls": "bell\x07 escape\x1b[0m del\x7f\n",
}
