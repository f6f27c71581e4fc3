"""Word lists for the synthetic university: French names that exercise encodings.

The lists deliberately hold accents, ligatures, apostrophes, hyphens, ``&`` and ``/`` so that every
client path (XML escaping, ``&apos;``, UTF-8 bytes, e-mail slugs) meets them on the first request.
Everything here is invented; no real person or building is described.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Élodie", "Hélène", "Jérôme", "François", "Zoé", "Anaïs", "Maëlle", "Noé", "Loïc", "Gaëlle",
    "Céline", "Benoît", "Chloé", "Raphaël", "Clémence", "Théo", "Léa", "Mathéo", "Inès", "Joël",
    "Aurélie", "Sébastien", "Agnès", "Frédéric", "Hervé", "Amélie", "Grégoire", "Mélanie", "Cédric",
    "Stéphane", "Valérie", "Jérémy", "Noëlle", "Michaël", "Bérénice", "Timothée", "Adèle", "Émile",
    "Éric", "Gérald", "Pénélope", "Ophélie", "Régis", "Sévérine", "Thaïs", "Anne-Sophie", "Jean-Marc",
    "Marie-Hélène", "Pierre-Étienne", "Camille", "Lucas", "Manon", "Hugo", "Sarah", "Louis", "Emma",
    "Nathan", "Julie", "Thomas", "Claire", "Antoine", "Marion", "Nicolas", "Pauline", "Julien",
    "Laure", "Mathieu", "Sophie", "Olivier", "Isabelle", "Vincent", "Nathalie", "Guillaume", "Anne",
    "Yannick", "Karine", "Bruno", "Sandrine", "Denis", "Martine", "Paul", "Jeanne", "Arthur", "Lina",
    "Yasmine", "Mehdi", "Fatoumata", "Moussa", "Aïcha", "Karim", "Nour", "Sofiane", "Lætitia",
    "Ludovic", "Gwenaëlle", "Solène", "Maïwenn", "Tiphaine", "Erwan", "Goulven", "Aude", "Cyprien",
)

SURNAMES: tuple[str, ...] = (
    "Lefèvre", "Hébert", "Bénard", "Gérard", "Mégret", "Thévenin", "Hénault", "Bréhier", "Pélissier",
    "Févrié", "Ménard", "Prévost", "Rémy", "Séverin", "Vérité", "Chénier", "Déprez", "Lévêque",
    "Bézier", "Crépin", "Gaudé", "Jégou", "Lécuyer", "Mérieux", "Nérac", "Pécresse", "Quéré",
    "D'Almeida", "D'Angelo", "N'Diaye", "L'Hôte", "D'Amico", "Dell'Aquila", "O'Connor", "D'Arcy",
    "L'Huillier", "N'Guessan", "D'Souza", "Le Goff", "Le Bihan", "Le Gall", "Du Pré", "De La Roche",
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent",
    "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François",
    "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry",
    "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez",
    "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez", "Noël", "Boyer", "Denis", "Lemaire",
    "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy", "Meyer", "Schmitt", "Weber", "Kieffer",
    "Schneider", "Koenig", "Hoffmann", "Wagner", "Zimmermann", "Fuchs", "Klein", "Wolff", "Haas",
    "Caillé", "Pâris", "Lagüe", "Coëffic", "Kerbrat", "Tanguy", "Quémener", "Hamon", "Jaouen",
    "Benali", "Haddad", "Traoré", "Diallo", "Nguyen", "Tran", "Mbappé", "Okafor", "Cissé", "Touré",
)

# (component name, short code, domain key). A component is a faculty, school or institute; its
# domain picks the disciplines, the subjects and the department that staffs it.
COMPONENTS: tuple[tuple[str, str, str], ...] = (
    ("UFR de mathématique et d'informatique", "MI", "maths"),
    ("Faculté de physique et ingénierie", "PHI", "physique"),
    ("Faculté de chimie", "CHI", "chimie"),
    ("Faculté des sciences de la vie", "SVI", "biologie"),
    ("Faculté de droit, de sciences politiques et de gestion", "DRT", "droit"),
    ("Faculté des sciences économiques et de gestion", "ECO", "eco"),
    ("Faculté des lettres", "LET", "lettres"),
    ("Faculté des langues et cultures étrangères", "LCE", "langues"),
    ("Faculté des sciences historiques", "HIS", "histoire"),
    ("Faculté de psychologie", "PSY", "psycho"),
    ("Faculté des sciences du sport", "STA", "sport"),
    ("Faculté de médecine, maïeutique et sciences de la santé", "MED", "medecine"),
    ("Faculté des arts", "ART", "arts"),
    ("Faculté de géographie et d'aménagement", "GEO", "geo"),
    ("Faculté de philosophie", "PHI2", "philo"),
    ("Institut national supérieur du professorat et de l'éducation", "INSPE", "education"),
    ("IAE – École universitaire de management", "IAE", "gestion"),
    ("Faculté des sciences sociales", "SOC", "socio"),
    ("IUT Louis-Arago", "IUTA", "info"),
    ("IUT de Haute-Alsace", "IUTH", "ingenierie"),
    ("Faculté de pharmacie", "PHA", "pharmacie"),
    ("École d'ingénieurs Télécom & Physique", "TPS", "ingenierie"),
    ("Institut d'études politiques", "IEP", "droit"),
    ("Faculté des sciences de l'éducation", "SDE", "education"),
    ("École supérieure de biotechnologie", "ESB", "biologie"),
    ("Observatoire astronomique", "OBS", "physique"),
    ("Faculté de théologie protestante", "THP", "philo"),
    ("Faculté de théologie catholique", "THC", "philo"),
    ("Centre de langues – Spiral", "SPI", "langues"),
    ("Faculté des sciences de la Terre", "STE", "geo"),
    ("Faculté de chirurgie dentaire", "DEN", "medecine"),
    ("Institut de traducteurs, d'interprètes et de relations internationales", "ITI", "langues"),
    ("École de journalisme", "EJ", "lettres"),
    ("Faculté des sciences de l'ingénieur", "FSI", "ingenierie"),
    ("Institut du travail", "IDT", "socio"),
    ("Service universitaire des activités physiques", "SUAPS", "sport"),
)

# Disciplines per domain: programmes are named after them.
DISCIPLINES: dict[str, tuple[str, ...]] = {
    "maths": ("Mathématiques", "Mathématiques appliquées", "Statistique & science des données", "Cryptologie"),
    "info": ("Informatique", "Réseaux & télécommunications", "Métiers du multimédia et de l'internet"),
    "physique": ("Physique", "Physique fondamentale", "Astrophysique", "Physique des matériaux"),
    "chimie": ("Chimie", "Chimie analytique", "Chimie du vivant", "Matériaux & polymères"),
    "biologie": ("Sciences de la vie", "Biologie cellulaire", "Écologie & éthologie", "Biotechnologie"),
    "droit": ("Droit", "Droit privé", "Droit public", "Science politique", "Droit de l'Union européenne"),
    "eco": ("Économie", "Économie-gestion", "Monnaie, banque, finance", "Économétrie"),
    "lettres": ("Lettres modernes", "Lettres classiques", "Sciences du langage", "Métiers du livre"),
    "langues": ("Langues étrangères appliquées", "Anglais", "Études germaniques", "Études hispaniques"),
    "histoire": ("Histoire", "Histoire de l'art", "Archéologie", "Histoire contemporaine"),
    "psycho": ("Psychologie", "Neuropsychologie", "Psychologie du développement"),
    "sport": ("STAPS", "Entraînement sportif", "Activité physique adaptée & santé", "Management du sport"),
    "medecine": ("Médecine", "Maïeutique", "Orthophonie", "Santé publique", "Odontologie"),
    "arts": ("Arts plastiques", "Musicologie", "Arts du spectacle", "Design"),
    "geo": ("Géographie", "Aménagement du territoire", "Sciences de la Terre", "Géologie"),
    "philo": ("Philosophie", "Théologie", "Éthique", "Humanités"),
    "education": ("Sciences de l'éducation", "Métiers de l'enseignement", "Formation d'adultes"),
    "gestion": ("Management", "Contrôle de gestion", "Ressources humaines", "Marketing"),
    "socio": ("Sociologie", "Ethnologie", "Travail social", "Démographie"),
    "ingenierie": ("Génie électrique", "Génie mécanique", "Génie industriel", "Mesures physiques"),
    "pharmacie": ("Pharmacie", "Sciences du médicament", "Biologie médicale"),
}

# Subject stems per domain; a level suffix and the programme make them distinct.
SUBJECTS: dict[str, tuple[str, ...]] = {
    "maths": ("Analyse", "Algèbre linéaire", "Probabilités", "Statistique", "Topologie", "Géométrie",
              "Théorie des graphes", "Équations différentielles", "Optimisation", "Arithmétique"),
    "info": ("Algorithmique", "Programmation", "Bases de données", "Réseaux", "Systèmes d'exploitation",
             "Génie logiciel", "Compilation", "Sécurité", "Intelligence artificielle", "Web"),
    "physique": ("Mécanique", "Électromagnétisme", "Optique", "Thermodynamique", "Physique quantique",
                 "Relativité", "Physique statistique", "Ondes", "Astrophysique", "Électronique"),
    "chimie": ("Chimie organique", "Chimie minérale", "Thermochimie", "Spectroscopie", "Cinétique",
               "Chimie analytique", "Polymères", "Électrochimie", "Chimie du solide"),
    "biologie": ("Biologie cellulaire", "Génétique", "Biochimie", "Physiologie végétale", "Écologie",
                 "Microbiologie", "Immunologie", "Biologie moléculaire", "Éthologie", "Évolution"),
    "droit": ("Droit constitutionnel", "Droit civil", "Droit pénal", "Droit administratif",
              "Droit des obligations", "Histoire du droit", "Relations internationales",
              "Droit de l'Union européenne", "Procédure civile", "Libertés fondamentales"),
    "eco": ("Microéconomie", "Macroéconomie", "Économétrie", "Introduction à l'économie",
            "Histoire des faits économiques", "Finance d'entreprise", "Comptabilité", "Monnaie & banque"),
    "lettres": ("Littérature française", "Littérature comparée", "Latin", "Grec ancien", "Stylistique",
                "Grammaire", "Linguistique", "Poésie du XIXᵉ siècle", "Théâtre", "Ateliers d'écriture"),
    "langues": ("Anglais", "Allemand", "Espagnol", "Italien", "Traduction", "Civilisation britannique",
                "Phonétique", "Interprétation", "Chinois", "Arabe"),
    "histoire": ("Histoire ancienne", "Histoire médiévale", "Histoire moderne", "Histoire contemporaine",
                 "Archéologie", "Histoire de l'art", "Paléographie", "Épigraphie", "Muséologie"),
    "psycho": ("Psychologie cognitive", "Psychologie sociale", "Psychopathologie", "Neurosciences",
               "Psychologie du développement", "Méthodologie expérimentale", "Psychométrie"),
    "sport": ("Anatomie", "Physiologie de l'effort", "Sociologie du sport", "Pratiques sportives",
              "Biomécanique", "Entraînement", "Natation", "Athlétisme", "Sports collectifs"),
    "medecine": ("Anatomie", "Histologie", "Sémiologie", "Pharmacologie", "Cardiologie", "Pédiatrie",
                 "Santé publique", "Biophysique", "Physiologie", "Gynécologie-obstétrique"),
    "arts": ("Histoire des arts", "Pratique plastique", "Musicologie", "Solfège", "Esthétique",
             "Dramaturgie", "Arts numériques", "Scénographie", "Photographie"),
    "geo": ("Cartographie", "Géomorphologie", "Géographie urbaine", "Climatologie", "SIG",
            "Pétrologie", "Tectonique", "Hydrologie", "Aménagement"),
    "philo": ("Philosophie antique", "Logique", "Éthique", "Métaphysique", "Philosophie politique",
              "Exégèse", "Histoire des religions", "Herméneutique", "Épistémologie"),
    "education": ("Didactique", "Psychologie de l'enfant", "Sociologie de l'éducation", "Pédagogie",
                  "Analyse de pratiques", "Numérique éducatif", "Philosophie de l'éducation"),
    "gestion": ("Marketing", "Contrôle de gestion", "Gestion des ressources humaines", "Stratégie",
                "Comptabilité financière", "Droit des affaires", "Management de projet", "Audit"),
    "socio": ("Sociologie générale", "Méthodes d'enquête", "Anthropologie", "Démographie",
              "Sociologie du travail", "Sociologie urbaine", "Politiques sociales"),
    "ingenierie": ("Électrotechnique", "Automatique", "Mécanique des fluides", "Résistance des matériaux",
                   "CAO/DAO", "Électronique de puissance", "Capteurs & mesures", "Productique"),
    "pharmacie": ("Chimie thérapeutique", "Pharmacognosie", "Toxicologie", "Galénique",
                  "Pharmacologie", "Bactériologie", "Hématologie", "Parasitologie"),
}

LEVEL_SUFFIXES: tuple[str, ...] = ("1", "2", "3", "avancée", "fondamentale", "appliquée", "I", "II")

SITES: tuple[str, ...] = (
    "Campus de l'Esplanade", "Campus d'Illkirch", "Campus Médecine – Hôpital civil", "Site de Colmar",
    "Campus de Cronenbourg", "Site de Schiltigheim", "Campus Meinau", "Site de Haguenau",
)

BUILDING_WORDS: tuple[str, ...] = (
    "Atrium", "Patio", "Platane", "Escarpe", "Portique", "Le Bel", "Pasteur", "Institut Lebel",
    "Pôle d'économie", "Maison des sciences de l'Homme", "Bâtiment de chimie", "Observatoire",
    "Pavillon Leriche", "Institut d'anatomie", "Gymnase universitaire", "Halle de sport",
    "Bibliothèque Blaise-Pascal", "Faculté de pharmacie", "Bâtiment Math-Info", "Bâtiment Physique",
)

FLOORS: tuple[str, ...] = ("Rez-de-chaussée", "1er étage", "2e étage", "3e étage", "4e étage", "Sous-sol")

AMPHI_NAMES: tuple[str, ...] = (
    "Amphi Cavaillès", "Amphi Curie", "Amphi Fresnel", "Amphi Ourisson", "Amphi Lehn", "Amphi Weiss",
    "Amphi Schweitzer", "Amphi Gauss", "Amphi Pasteur", "Amphi Ampère", "Amphi Érasme", "Amphi Goethe",
)

NOTES: tuple[str, ...] = (
    "Apporter une calculatrice",
    "Séance en salle informatique\nPrévoir vos identifiants",
    "Cours d'ouverture – inscription préalable",
    "Rattrapage de la séance du 11/11",
    "Contrôle continu : l'épreuve dure 2 h",
    "Intervenant extérieur & visio",
    "1679982923895",
)
