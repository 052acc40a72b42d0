namespace Welkin.Intercloud.Tests.Rdf;

// A small catalog-like graph: three clouds, their regions, offerings and price plans.
internal static class CatalogData
{
    public static readonly Uri BaseUri = new("https://cloud.example/catalog/");

    public const string Prefixes = """
        PREFIX w: <https://welkin.example/ns#>
        PREFIX gr: <http://purl.org/goodrelations/v1#>
        PREFIX dct: <http://purl.org/dc/terms/>
        PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>

        """;

    public const string Turtle = """
        @prefix w: <https://welkin.example/ns#> .
        @prefix gr: <http://purl.org/goodrelations/v1#> .
        @prefix dct: <http://purl.org/dc/terms/> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

        <clouds/alpha> a w:Cloud ; dct:title "Alpha Cloud"@en ; w:region <regions/fra>, <regions/ber> .
        <clouds/beta> a w:Cloud ; dct:title "Beta Cloud"@en ; w:region <regions/par> .
        <clouds/gamma> a w:Cloud ; dct:title "Gamma Cloud" ; w:region <regions/ams>, <regions/fra> .

        <regions/fra> a w:Region ; rdfs:label "Frankfurt" ; w:jurisdiction "DE" .
        <regions/ber> a w:Region ; rdfs:label "Berlin" ; w:jurisdiction "DE" .
        <regions/par> a w:Region ; rdfs:label "Paris" ; w:jurisdiction "FR" .
        <regions/ams> a w:Region ; rdfs:label "Amsterdam" ; w:jurisdiction "NL" .

        <offerings/a-small> a w:Offering ; w:cloud <clouds/alpha> ; rdfs:label "small" ; w:vcpus 2 ; w:memoryMiB 4096 ;
            w:region <regions/fra> ; w:availability 99.9 ; w:price <prices/a-small> .
        <offerings/a-large> a w:Offering ; w:cloud <clouds/alpha> ; rdfs:label "large" ; w:vcpus 8 ; w:memoryMiB 32768 ;
            w:region <regions/ber> ; w:availability 99.95 ; w:price <prices/a-large> .
        <offerings/b-medium> a w:Offering ; w:cloud <clouds/beta> ; rdfs:label "medium" ; w:vcpus 4 ; w:memoryMiB 8192 ;
            w:region <regions/par> ; w:availability 99.5 ; w:price <prices/b-medium> .
        <offerings/b-gpu> a w:Offering ; w:cloud <clouds/beta> ; rdfs:label "gpu \"accelerated\"" ; w:vcpus 16 ; w:memoryMiB 65536 ;
            w:region <regions/par> ; w:price <prices/b-gpu> ; w:note "no SLA yet" .
        <offerings/g-medium> a w:Offering ; w:cloud <clouds/gamma> ; rdfs:label "medium" ; w:vcpus 4 ; w:memoryMiB 8192 ;
            w:region <regions/ams> ; w:availability 99.9 ; w:price <prices/g-medium> .
        <offerings/g-tiny> a w:Offering ; w:cloud <clouds/gamma> ; rdfs:label "tiny" ; w:vcpus 1 ; w:memoryMiB 1024 ;
            w:region <regions/fra> ; w:availability 99.0 ; w:price <prices/g-tiny> .

        <prices/a-small> gr:hasCurrency "EUR" ; gr:hasCurrencyValue "0.05"^^xsd:decimal ; gr:hasUnitOfMeasurement "cpu-hour" .
        <prices/a-large> gr:hasCurrency "EUR" ; gr:hasCurrencyValue "0.04"^^xsd:decimal ; gr:hasUnitOfMeasurement "cpu-hour" .
        <prices/b-medium> gr:hasCurrency "EUR" ; gr:hasCurrencyValue "0.06"^^xsd:decimal ; gr:hasUnitOfMeasurement "cpu-hour" .
        <prices/b-gpu> gr:hasCurrency "USD" ; gr:hasCurrencyValue "0.90"^^xsd:decimal ; gr:hasUnitOfMeasurement "cpu-hour" .
        <prices/g-medium> gr:hasCurrency "EUR" ; gr:hasCurrencyValue "0.045"^^xsd:decimal ; gr:hasUnitOfMeasurement "cpu-hour" .
        <prices/g-tiny> gr:hasCurrency "EUR" ; gr:hasCurrencyValue "0.07"^^xsd:decimal ; gr:hasUnitOfMeasurement "cpu-hour" .
        """;
}
