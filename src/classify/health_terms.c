/*
 * The health vocabulary (health_terms.h).
 *
 * Chosen for precision in the text agents send: words that are health
 * data wherever they appear.  Left out on purpose, because they are
 * common in other senses: "stroke" (swimming, drawing), "lithium"
 * (batteries), "aspirin" alone in recipes and idioms, "fracture"
 * (materials), "bpm" (music tempo), "INR" (the rupee), "PSA" (public
 * service announcements), "Parkinson" alone (Parkinson's law).
 */
#include "health_terms.h"

#define D(t) { t, HT_DIAGNOSIS, false, false }
#define DC(t) { t, HT_DIAGNOSIS, true, false }
#define M(t) { t, HT_MEDICATION, false, false }
#define MC(t) { t, HT_MEDICATION, true, false }
#define B(t) { t, HT_MEASURE, false, false }
#define U(t) { t, HT_MEASURE, false, true }

const struct health_term health_terms[] = {
	/* diagnoses and conditions */
	D("diabetes"), D("diabetic"), D("prediabetes"), D("hypertension"), D("hypotension"),
	D("depression"), D("depressive disorder"), D("major depressive"), D("anxiety disorder"),
	D("generalized anxiety"), D("panic disorder"), D("bipolar disorder"), D("bipolar"),
	D("schizophrenia"), D("schizoaffective"), DC("PTSD"), D("post-traumatic stress"),
	DC("ADHD"), D("autism"), D("autistic"), D("dementia"), D("alzheimer's"), D("alzheimers"),
	D("alzheimer disease"), D("parkinson's disease"), D("parkinsons disease"),
	D("parkinson disease"), D("parkinsonism"), D("epilepsy"), D("epileptic"),
	D("seizure disorder"), D("multiple sclerosis"), D("migraine"), D("migraines"),
	D("asthma"), D("asthmatic"), DC("COPD"), D("emphysema"), D("bronchitis"),
	D("pneumonia"), D("tuberculosis"), DC("HIV"), DC("AIDS"), D("hepatitis"),
	D("cirrhosis"), D("cancer"), D("cancers"), D("carcinoma"), D("melanoma"),
	D("leukemia"), D("leukaemia"), D("lymphoma"), D("sarcoma"), D("metastatic"),
	D("chemotherapy"), D("radiotherapy"), D("dialysis"), D("chronic kidney disease"),
	D("renal failure"), D("kidney failure"), D("heart failure"), D("atrial fibrillation"),
	D("arrhythmia"), D("myocardial infarction"), D("heart attack"),
	D("coronary artery disease"), D("angina"), D("hyperlipidemia"),
	D("hypercholesterolemia"), D("high cholesterol"), D("obesity"), D("anorexia"),
	D("bulimia"), D("eating disorder"), D("substance use disorder"), D("alcoholism"),
	D("opioid use disorder"), D("hypothyroidism"), D("hyperthyroidism"),
	D("lupus"), D("rheumatoid arthritis"), D("osteoarthritis"), D("arthritis"),
	D("psoriasis"), D("eczema"), D("crohn's disease"), D("crohns disease"),
	D("ulcerative colitis"), D("celiac disease"), D("coeliac disease"), DC("IBS"),
	DC("GERD"), D("endometriosis"), DC("PCOS"), D("infertility"), D("miscarriage"),
	DC("HPV"), D("chlamydia"), D("gonorrhea"), D("syphilis"), D("herpes"),
	D("sickle cell"), D("cystic fibrosis"), D("hemophilia"), D("anemia"),
	D("anaemia"), D("sepsis"), D("long covid"), D("concussion"), D("osteoporosis"),
	D("glaucoma"), D("cataract"), D("macular degeneration"), D("insomnia"),
	D("sleep apnea"), D("sleep apnoea"), D("narcolepsy"), DC("OCD"),
	D("obsessive-compulsive"), D("suicidal"), D("self-harm"), D("tumor"), D("tumour"),
	D("diagnosed with"),

	/* medications */
	M("metformin"), M("insulin"), M("glipizide"), M("sitagliptin"), M("empagliflozin"),
	M("dapagliflozin"), M("semaglutide"), M("ozempic"), M("wegovy"), M("liraglutide"),
	M("tirzepatide"), M("mounjaro"), M("lisinopril"), M("losartan"), M("amlodipine"),
	M("hydrochlorothiazide"), M("metoprolol"), M("atenolol"), M("propranolol"),
	M("carvedilol"), M("atorvastatin"), M("simvastatin"), M("rosuvastatin"),
	M("pravastatin"), M("warfarin"), M("apixaban"), M("rivaroxaban"), M("clopidogrel"),
	M("sertraline"), M("fluoxetine"), M("escitalopram"), M("citalopram"), M("paroxetine"),
	M("venlafaxine"), M("duloxetine"), M("bupropion"), M("mirtazapine"), M("trazodone"),
	M("amitriptyline"), M("lamotrigine"), M("valproate"), M("quetiapine"),
	M("olanzapine"), M("risperidone"), M("aripiprazole"), M("clozapine"),
	M("haloperidol"), M("methylphenidate"), M("adderall"), M("lisdexamfetamine"),
	M("alprazolam"), M("lorazepam"), M("diazepam"), M("clonazepam"), M("zolpidem"),
	M("gabapentin"), M("pregabalin"), M("levetiracetam"), M("oxycodone"),
	M("hydrocodone"), M("morphine"), M("fentanyl"), M("tramadol"), M("buprenorphine"),
	M("methadone"), M("naloxone"), M("prednisone"), M("prednisolone"),
	M("methotrexate"), M("hydroxychloroquine"), M("adalimumab"), M("humira"),
	M("etanercept"), M("infliximab"), M("levothyroxine"), M("synthroid"),
	M("omeprazole"), M("pantoprazole"), M("esomeprazole"), M("albuterol"),
	M("salbutamol"), M("fluticasone"), M("montelukast"), M("tamoxifen"), M("letrozole"),
	M("anastrozole"), M("trastuzumab"), M("pembrolizumab"), M("imatinib"),
	M("truvada"), MC("PrEP"), M("tenofovir"), M("emtricitabine"), M("dolutegravir"),
	M("biktarvy"), M("sildenafil"), M("tadalafil"), M("finasteride"), M("isotretinoin"),
	M("accutane"), M("spironolactone"), M("furosemide"), M("estradiol"),
	M("antidepressant"), M("antidepressants"), M("antipsychotic"), M("antiretroviral"),

	/* lab and biometric measures: a finding only with a number nearby */
	B("hba1c"), B("a1c"), B("hemoglobin a1c"), B("ldl"), B("hdl"), B("triglycerides"),
	B("cholesterol"), B("blood glucose"), B("fasting glucose"), B("blood sugar"),
	B("glucose"), B("blood pressure"), B("systolic"), B("diastolic"), B("heart rate"),
	B("resting heart rate"), B("heart rate variability"), B("hrv"), B("vo2 max"),
	B("vo2max"), B("spo2"), B("oxygen saturation"), B("respiratory rate"),
	B("body temperature"), B("bmi"), B("body fat"), B("sleep score"),
	B("recovery score"), B("readiness score"), B("strain score"), B("deep sleep"),
	B("rem sleep"), B("egfr"), B("creatinine"), B("tsh"), B("hemoglobin"),
	B("haemoglobin"), B("platelets"), B("white blood cell"), B("wbc"), B("ferritin"),
	B("cortisol"), U("mmHg"), U("mg/dL"), U("mmol/L"), B("blood oxygen"),
};

const size_t health_nterms = sizeof(health_terms) / sizeof(health_terms[0]);
