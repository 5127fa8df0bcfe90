"""The report's words in Spanish and English: one dictionary per language, the same keys in both (a test checks).

Numbers are formatted by reports/numbers.py; names of areas, levels, dimensions and indicators come from the
snapshot (`name_es`/`name_en`). Sentences with a number use `{}` fields filled by the view model.
"""

from __future__ import annotations

LANGUAGES = ("es", "en")

TEXT: dict[str, dict[str, str]] = {
    "es": {
        "title": "Índice de bienestar social",
        "period": "Periodo",
        "published": "Publicado el",
        "data_to": "Datos hasta",
        "index": "Índice",
        "contents": "Contenido",
        "findings": "Hallazgos principales",
        "how_to_read": "Cómo leer este informe",
        "how_to_read_1": "El puntaje va de 0 a 100: cuanto más alto, mayor bienestar. El rango 1 es el área con mejor "
                         "puntaje de su nivel. La banda de rango (5–95 %) muestra los rangos que el área ocupa cuando "
                         "se varían las decisiones del método (pesos, normalización, agregación): dos áreas cuyas "
                         "bandas se solapan no se pueden distinguir con confianza.",
        "how_to_read_2": "El quintil 1 agrupa al 20 % de áreas con mejor puntaje; ≈ marca un quintil incierto (la "
                         "banda de rango cruza el límite de un quintil). Las cifras calculadas con muy pocas personas "
                         "u hogares se suprimen para proteger la confidencialidad y aparecen como «s».",
        "map": "Mapa del índice",
        "map_caption": "Puntaje compuesto por {} en quintiles (1 = mejor). Pase el cursor, toque o enfoque un área "
                       "para ver sus datos; busque un área por nombre; elija una dimensión en «Mostrar en el mapa». "
                       "Los espacios en blanco dentro del mapa no pertenecen a ningún área (lagos, salares o "
                       "territorio sin área publicada).",
        "map_legend": "Quintil",
        "composite": "Índice compuesto",
        "map_by": "Mapa por {}",
        "map_png": "Imagen del mapa (PNG) para presentaciones",
        "no_geometry": "La instantánea no trae geometrías para este nivel.",
        "no_data": "Sin datos",
        "border": "Límite",
        "search": "Buscar un área",
        "ranking": "Clasificación por {}",
        "ranking_caption": "Ordenado por rango; áreas sin datos al final. Banda: rangos 5–95 % al variar el método; "
                           "≈ quintil incierto.",
        "rank": "Rango",
        "band": "Banda 5–95 %",
        "code": "Código",
        "name": "Nombre",
        "score": "Puntaje",
        "quintile": "Quintil",
        "uncertain": "quintil incierto: la banda de rango cruza un límite de quintil",
        "best": "mejor",
        "worst": "peor",
        "dimensions": "Dimensiones por {}",
        "dimensions_mean": "Promedio simple de los puntajes de {} en cada {} (sin ponderar por población).",
        "dimension": "Dimensión",
        "indicators": "Indicadores",
        "indicators_caption": "Mínimo, mediana y máximo entre las áreas de nivel {} con valor publicado; "
                              "«suprimidas»: áreas con valor suprimido / áreas con fila.",
        "indicator": "Indicador",
        "unit": "Unidad",
        "direction": "Sentido",
        "higher_better": "↑ más es mejor",
        "lower_better": "↓ menos es mejor",
        "min": "Mín.",
        "median": "Mediana",
        "max": "Máx.",
        "suppressed_count": "Suprimidas",
        "time_basis": "Base temporal",
        "by_level": "Indicadores por {}",
        "cell_legend": "«s» = suprimido por confidencialidad, «—» = sin valor.",
        "outside": "Indicadores fuera del índice",
        "outside_intro": "Indicadores publicados por {} que no entran en el índice compuesto.",
        "survey": "Encuesta de hogares",
        "survey_intro": "{}: {} hogares respondieron. Cada cifra con su intervalo de confianza del 95 %, calculado "
                        "según el diseño de la muestra (estratos y conglomerados). Líneas de pobreza: extrema {}, "
                        "moderada {} ({}; {}).",
        "survey_legend": "«s» = muy pocos hogares respondieron: no se publica; † = poco fiable (coeficiente de "
                         "variación alto); «—» = sin valor.",
        "survey_all": "Toda la ciudad",
        "survey_small": "Pobreza por ingreso (línea moderada) por {}: estimaciones de áreas pequeñas",
        "survey_small_intro": "La encuesta no alcanza para estimar cada {} por sí sola: el modelo de Fay–Herriot "
                              "combina la estimación directa con una predicción a partir del censo (NBI, agua), y "
                              "usa solo la predicción donde no se encuestó a nadie. ± es 1,96 veces la raíz del "
                              "error cuadrático medio.",
        "survey_method_eblup": "encuesta y censo",
        "survey_method_synthetic": "solo censo",
        "survey_how": "Fuente",
        "poverty_intro": "Pobreza: necesidades básicas insatisfechas (NBI) por estratos y pobreza multidimensional de "
                         "Alkire–Foster (H: incidencia, A: intensidad, M0 = H × A, con la contribución de cada "
                         "indicador).",
        "change": "Cambio entre {} y {}",
        "change_intro": "Cambio del puntaje compuesto por {}. Un cambio de rango es real cuando las bandas de rango "
                        "de ambos años no se solapan (marcado ✓).",
        "not_comparable": "Atención: los índices de ambos años no tienen la misma estructura ({}). Por eso el "
                          "cambio se calcula con el índice rehecho para ambos años sobre lo que ambos miden, con las "
                          "mismas metas: {}. Los puntajes de cada año en las otras secciones usan el índice completo "
                          "de ese año.",
        "why_missing": "{} sin puntaje en {}",
        "why_weights": "pesos distintos",
        "basis_without": " (sin {}: no medidos en ambos años)",
        "comparable": "Los índices de ambos años tienen la misma estructura (mismas dimensiones y pesos); el "
                      "cambio se calcula con las mismas metas en ambos años.",
        "score_from": "Puntaje {} (base común)",
        "score_to": "Puntaje {} (base común)",
        "change_col": "Cambio",
        "rank_change": "Rango {} → {}",
        "beyond": "Fuera de la incertidumbre",
        "profiles": "Perfiles por {}",
        "profile_areas": "{} áreas de nivel {}; puntaje {} (rango {} de {}).",
        "quality": "Calidad de datos",
        "quality_text": "{} controles de calidad respaldan esta publicación; {} no se cumplieron (solo advertencias: "
                        "un control bloqueante fallido impide publicar).",
        "quality_docs": "Resultados detallados de validación (Great Expectations Data Docs)",
        "severity": "Severidad", "suite": "Conjunto", "check": "Control", "column": "Columna",
        "unexpected": "Valores inesperados", "examples": "Ejemplos", "why": "Por qué importa",
        "suppression": "Cifras suprimidas",
        "suppression_text": "Para proteger a las personas, una cifra basada en menos de {} personas u hogares no se "
                            "publica (supresión primaria), y otras se suprimen para que la primera no pueda "
                            "deducirse restando (supresión secundaria). En este periodo, a nivel {}: {} cifras "
                            "suprimidas de {}.",
        "reason_primary": "primaria (pocos casos)", "reason_secondary": "secundaria (evita la resta)",
        "reason_sensitive": "sensible (umbral más estricto)",
        "method": "Metodología",
        "method_intro": "El índice «{}» combina {} indicadores en {} dimensiones. Cada indicador se normaliza a "
                        "0–100 ({}), se orienta para que más sea mejor y se agrega con los pesos de la tabla; "
                        "las dimensiones se promedian en el puntaje compuesto. La normalización se hace dentro de "
                        "cada nivel: por eso un nivel superior puede puntuar por encima de su mejor área.",
        "normalise_goalposts": "límites fijos {}–{}",
        "normalise_minmax": "mínimo–máximo entre las áreas del nivel",
        "normalise_rank": "por rango",
        "method_missing": "Un área sin al menos el {} de los indicadores de una dimensión queda sin puntaje en ella.",
        "weight": "Peso",
        "normalisation": "Normalización",
        "sources": "Fuentes y citación",
        "sources_intro": "Entregas de datos detrás de esta publicación (archivo, huella SHA-256, fecha de recepción); "
                         "la lista completa, archivo por archivo, está en datapackage.json.",
        "files": "{} archivos",
        "source": "Fuente", "delivery": "Entrega", "received": "Recibida", "rows": "Filas",
        "cite": "Cómo citar",
        "publication": "Publicación {} · versión {} · commit {}",
        "downloads": "Descargas",
        "downloads_intro": "Datos abiertos de este informe (solo cifras que pasan el control de confidencialidad), "
                           "con sus metadatos en datapackage.json.",
        "pdf": "Informe en PDF",
        "since": "Desde el informe anterior",
        "since_none": "Este es el primer informe de esta ciudad guardado en el historial.",
        "since_previous": "Informe anterior: {}.",
        "since_same": "Las cifras no cambiaron desde el informe anterior.",
        "since_moved": "Áreas cuyo rango se movió más allá de su banda: {}.",
        "since_entered": "Nuevo en esta publicación: {}.",
        "finding_median": "Puntaje mediano de {}: {} (entre {} y {}; {} áreas con puntaje).",
        "finding_best": "Mejores {}",
        "finding_worst": "Peores {}",
        "finding_changes": "Mayores cambios fuera de la incertidumbre ({} → {})",
        "finding_changes_unbanded": "Mayores cambios ({} → {}; sin bandas de rango publicadas, su incertidumbre "
                                    "no se midió)",
        "finding_no_changes": "Ningún cambio de rango supera la incertidumbre.",
        "finding_quality": "{} advertencias de calidad de datos (ver Calidad de datos).",
        "finding_quality_ok": "Todos los controles de calidad se cumplieron.",
        "footer": "Generado a partir de la instantánea publicada del esquema marts. Página {}.",
        "page": "Página",
        "other_language": "English version",
        "print_ranking": "En papel, la clasificación completa de las áreas más pequeñas aparece agrupada en los "
                         "perfiles; la tabla completa está en la versión web y en index.csv.",
    },
    "en": {
        "title": "Social well-being index",
        "period": "Period",
        "published": "Published",
        "data_to": "Data up to",
        "index": "Index",
        "contents": "Contents",
        "findings": "Key findings",
        "how_to_read": "How to read this report",
        "how_to_read_1": "Scores run from 0 to 100: higher means better well-being. Rank 1 is the best-scoring area "
                         "of its level. The rank band (5–95%) shows the ranks an area takes when the method's choices "
                         "vary (weights, normalisation, aggregation): two areas whose bands overlap cannot be told "
                         "apart with confidence.",
        "how_to_read_2": "Quintile 1 holds the best 20% of areas; ≈ marks an uncertain quintile (the rank band "
                         "crosses a quintile boundary). Figures based on very few persons or households are "
                         "suppressed to protect confidentiality and show as “s”.",
        "map": "Index map",
        "map_caption": "Composite score by {} in quintiles (1 = best). Hover, tap or focus an area to see its "
                       "figures; search an area by name; choose a dimension under “Show on the map”. Blank spaces "
                       "inside the map belong to no area (lakes, salt flats or land without a published area).",
        "map_legend": "Quintile",
        "composite": "Composite index",
        "map_by": "Map by {}",
        "map_png": "Map image (PNG) for slides",
        "no_geometry": "The snapshot has no geometry for this level.",
        "no_data": "No data",
        "border": "Border",
        "search": "Search an area",
        "ranking": "Ranking by {}",
        "ranking_caption": "Sorted by rank; areas without data last. Band: 5–95% ranks as the method varies; "
                           "≈ uncertain quintile.",
        "rank": "Rank",
        "band": "Band 5–95%",
        "code": "Code",
        "name": "Name",
        "score": "Score",
        "quintile": "Quintile",
        "uncertain": "uncertain quintile: the rank band crosses a quintile boundary",
        "best": "best",
        "worst": "worst",
        "dimensions": "Dimensions by {}",
        "dimensions_mean": "Unweighted mean of the {} scores within each {}.",
        "dimension": "Dimension",
        "indicators": "Indicators",
        "indicators_caption": "Minimum, median and maximum over the {} areas with a published value; "
                              "“suppressed”: areas with a suppressed value / areas with a row.",
        "indicator": "Indicator",
        "unit": "Unit",
        "direction": "Direction",
        "higher_better": "↑ higher is better",
        "lower_better": "↓ lower is better",
        "min": "Min",
        "median": "Median",
        "max": "Max",
        "suppressed_count": "Suppressed",
        "time_basis": "Time basis",
        "by_level": "Indicators by {}",
        "cell_legend": "“s” = suppressed for confidentiality, “—” = no value.",
        "outside": "Indicators outside the index",
        "outside_intro": "Indicators published by {} that do not enter the composite index.",
        "survey": "Household survey",
        "survey_intro": "{}: {} households answered. Every figure with its 95% confidence interval, computed from "
                        "the sample's design (strata and clusters). Poverty lines: extreme {}, moderate {} ({}; {}).",
        "survey_legend": "“s” = too few households answered: not published; † = unreliable (high coefficient of "
                         "variation); “—” = no value.",
        "survey_all": "Whole city",
        "survey_small": "Income poverty (moderate line) by {}: small-area estimates",
        "survey_small_intro": "The survey is too thin to estimate each {} on its own: the Fay–Herriot model combines "
                              "the direct estimate with a prediction from the census (NBI, water), and uses the "
                              "prediction alone where nobody was surveyed. ± is 1.96 times the root mean squared "
                              "error.",
        "survey_method_eblup": "survey and census",
        "survey_method_synthetic": "census only",
        "survey_how": "Source",
        "poverty_intro": "Poverty: unsatisfied basic needs (NBI) by stratum and Alkire–Foster multidimensional poverty "
                         "(H: headcount, A: intensity, M0 = H × A, with each indicator's contribution).",
        "change": "Change between {} and {}",
        "change_intro": "Change of the composite score by {}. A rank change is real when the rank bands of both "
                        "years do not overlap (marked ✓).",
        "not_comparable": "Note: the two years' indices do not have the same structure ({}). The change is "
                          "therefore computed on the index rebuilt for both years on what both measure, with the "
                          "same goalposts: {}. Each year's scores in the other sections use that year's full index.",
        "why_missing": "{} not scored in {}",
        "why_weights": "different weights",
        "basis_without": " (without {}: not measured in both years)",
        "comparable": "Both years' indices have the same structure (same dimensions and weights); the change "
                      "uses the same goalposts in both years.",
        "score_from": "Score {} (common basis)",
        "score_to": "Score {} (common basis)",
        "change_col": "Change",
        "rank_change": "Rank {} → {}",
        "beyond": "Beyond uncertainty",
        "profiles": "Profiles by {}",
        "profile_areas": "{} areas of level {}; score {} (rank {} of {}).",
        "quality": "Data quality",
        "quality_text": "{} data-quality checks stand behind this release; {} did not pass (warnings only: a failed "
                        "blocking check stops publication).",
        "quality_docs": "Detailed validation results (Great Expectations Data Docs)",
        "severity": "Severity", "suite": "Suite", "check": "Check", "column": "Column",
        "unexpected": "Unexpected values", "examples": "Examples", "why": "Why it matters",
        "suppression": "Suppressed figures",
        "suppression_text": "To protect people, a figure based on fewer than {} persons or households is not "
                            "published (primary suppression), and others are withheld so that the first cannot be "
                            "worked out by subtraction (secondary suppression). This period, at level {}: {} figures "
                            "suppressed of {}.",
        "reason_primary": "primary (few cases)", "reason_secondary": "secondary (stops subtraction)",
        "reason_sensitive": "sensitive (stricter threshold)",
        "method": "Methodology",
        "method_intro": "The “{}” index combines {} indicators in {} dimensions. Each indicator is normalised to "
                        "0–100 ({}), oriented so that higher is better and aggregated with the weights in the table; "
                        "the dimensions are averaged into the composite score. Normalisation is done within each "
                        "level: that is why a higher level can score above its best area.",
        "normalise_goalposts": "fixed goalposts {}–{}",
        "normalise_minmax": "minimum–maximum over the areas of the level",
        "normalise_rank": "by rank",
        "method_missing": "An area without at least {} of a dimension's indicators gets no score in it.",
        "weight": "Weight",
        "normalisation": "Normalisation",
        "sources": "Sources and citation",
        "sources_intro": "The data deliveries behind this release (file, SHA-256 fingerprint, time received); the "
                         "full list, file by file, is in datapackage.json.",
        "files": "{} files",
        "source": "Source", "delivery": "Delivery", "received": "Received", "rows": "Rows",
        "cite": "How to cite",
        "publication": "Publication {} · version {} · commit {}",
        "downloads": "Downloads",
        "downloads_intro": "This report's open data (only figures that pass disclosure control), described in "
                           "datapackage.json.",
        "pdf": "Report as PDF",
        "since": "Since the last report",
        "since_none": "This is the first report of this city kept in the history.",
        "since_previous": "Previous report: {}.",
        "since_same": "The figures have not changed since the previous report.",
        "since_moved": "Areas whose rank moved beyond their band: {}.",
        "since_entered": "New in this release: {}.",
        "finding_median": "Median {} score: {} (from {} to {}; {} areas scored).",
        "finding_best": "Best {}",
        "finding_worst": "Worst {}",
        "finding_changes": "Largest changes beyond uncertainty ({} → {})",
        "finding_changes_unbanded": "Largest changes ({} → {}; no rank bands published, their uncertainty was "
                                    "not measured)",
        "finding_no_changes": "No rank change exceeds its uncertainty.",
        "finding_quality": "{} data-quality warnings (see Data quality).",
        "finding_quality_ok": "Every data-quality check passed.",
        "footer": "Built from the published snapshot of the marts schema. Page {}.",
        "page": "Page",
        "other_language": "Versión en español",
        "print_ranking": "On paper the full ranking of the smallest areas is given by group in the profiles; the "
                         "whole table is in the web version and in index.csv.",
    },
}
