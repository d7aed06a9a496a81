"""The vocabulary the dataset generator draws from: people, companies, places, services,
assessment templates and states, and the kinds of documents vendors send.
"""

FIRST = ["Ada", "Ben", "Chloé", "Dana", "Eitan", "Fatima", "Gus", "Hana", "Igor", "Jana", "Kofi", "Lena", "Mateo",
         "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wei", "Xenia", "Yusuf", "Zoë"]
LAST = ["Alvarez", "Brown", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Hughes", "Ivanova", "Jensen", "Kim",
        "López", "Murphy", "Nakamura", "O'Brien", "Patel", "Quispe", "Rossi", "Schmidt", "Tanaka", "Ueda", "Varga",
        "Wójcik", "Xu", "Yilmaz", "Zimmermann"]
TITLES = ["Procurement Manager", "IT Director", "Security Analyst", "Vendor Manager", "CISO", "Privacy Officer",
          "Finance Controller", "Head of Operations", "Risk Analyst", "Legal Counsel"]
PREFIX = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Cyberdyne", "Tyrell",
          "Soylent", "Wonka", "Gringotts", "Aperture", "Oscorp", "Massive", "Nakatomi", "Pied Piper", "Sterling",
          "Blue Sun", "Monarch", "Dunder", "Prestige", "Ollivander", "Krusty", "Virtucon", "Gekko", "Zorg"]
SUFFIX = ["Cloud", "Systems", "Analytics", "Payments", "Logistics", "Security", "Software", "Consulting", "Data",
          "Networks", "Labs", "Health", "Staffing", "Hosting", "Media", "Robotics", "Capital", "Telecom"]
FORMS = ["Inc.", "LLC", "Ltd", "GmbH", "S.A.", "B.V.", "plc", "Pty Ltd", "AB", "Oy"]
PLACES = [("Austin", "TX", "USA"), ("London", "", "United Kingdom"), ("Berlin", "", "Germany"),
          ("Bangalore", "Karnataka", "India"), ("Toronto", "ON", "Canada"), ("Sydney", "NSW", "Australia"),
          ("Dublin", "", "Ireland"), ("São Paulo", "SP", "Brazil"), ("Tokyo", "", "Japan"), ("", "", "Singapore"),
          ("Tel Aviv", "", "Israel"), ("Amsterdam", "", "Netherlands"), ("", "", "")]
SERVICES = ["Managed hosting", "Payroll processing", "Customer support outsourcing", "Email delivery",
            "Endpoint security", "Data warehouse", "Background checks", "Translation services", "Legal e-billing",
            "Travel booking", "Document e-signature", "Identity provider", "Code hosting", "Log analytics",
            "Office cleaning", "Print services", "Market data feed", "CRM platform", "HR information system"]
TEMPLATES = ["Standard security assessment", "Privacy assessment", "Financial viability review",
             "Critical supplier (DORA) assessment", "Legacy questionnaire"]
STATES_ELIGIBLE = ["draft", "submitted_to_third_party", "responses_received", "generating_observations", "finalizing"]
DOC_KINDS = [  # (name pattern, extension, content type, header)
    ("{v}_SOC2_Type_II_2026", "pdf", "application/pdf", b"%PDF-1.7\n"),
    ("{v} ISO 27001 certificate", "pdf", "application/pdf", b"%PDF-1.6\n"),
    ("{v} penetration test summary", "pdf", "application/pdf", b"%PDF-1.7\n"),
    ("Master services agreement - {v}", "docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("DPA {v} signed", "docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("SIG Lite responses {v}", "xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ("{v} insurance certificate", "pdf", "application/pdf", b"%PDF-1.4\n"),
    ("architecture diagram", "png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("meeting notes", "md", "text/markdown", b"# Notes\n"),
    ("subprocessor list", "csv", "text/csv", b"name,country,service\n"),
    ("evidence pack", "zip", "application/zip", b"PK\x03\x04"),
    ("remediation plan", "txt", "text/plain", b"Remediation plan\n"),
]
